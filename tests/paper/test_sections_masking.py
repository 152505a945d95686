"""Section 11's module (kamim_paper.sections.masking): its table, figure and generated conclusions follow the numbers
of a known summary, and land under the section's output folder with the names the notebook always used."""
import matplotlib

matplotlib.use("Agg")

from kamim_paper.sections import masking
from kamim_paper.sections.outputs import Markdown, SectionResult
from kamim_paper.sections.params import MaskingParams

RANDOM, DENSITY = "random | simmim | pixels", "density highest | simmim | pixels"
EVIDENCE = {
    "seeds": [0, 1],
    "cells": {RANDOM: {"arm": "random", "method": "simmim", "target": "pixels",
                       "val_masked_l1": [0.40, 0.44], "top1": [40.0, 42.0]},
              DENSITY: {"arm": "density highest", "method": "simmim", "target": "pixels",
                        "val_masked_l1": [0.60, 0.62], "top1": [50.0, 52.0]}},
    "baselines": {"image_blind": 0.5, "random_init_l1": 0.8, "raw_pixels": 30.0, "random_init_top1": 20.0},
    "differences": {DENSITY: {"reference": RANDOM,
                              "val_masked_l1": {"mean": 0.19, "ci95": [0.10, 0.28]},
                              "top1": {"mean": 10.0, "ci95": [9.0, 11.0]}}},
    "held_out_images": 64, "probe": "logistic regression on block-4 avg-pooled features"}
PROVENANCE = {"profile": "tiny", "git_commit": "abc", "device": "cpu", "date": "2026-12-06", "torch": "2.9"}


def _result(tmp_path) -> SectionResult:
    summary = {"section": "masking", "provenance": PROVENANCE, "evidence": EVIDENCE,
               "results": [{"label": RANDOM, "pretrain": {"model": "vit_micro12", "dataset": "photo_crops",
                                                          "epochs": 1}}]}
    return SectionResult("masking", MaskingParams.__new__(MaskingParams), tmp_path, summary)


def test_the_section_module_is_the_notebooks_whole_api():
    assert masking.Params is MaskingParams
    assert {"parameters", "plan", "compute", "evidence_table", "evidence_figure", "conclusions"} <= set(
        masking.__all__)


def test_the_table_is_written_under_its_old_name_with_the_numbers(tmp_path):
    table = masking.evidence_table(_result(tmp_path))
    assert isinstance(table, Markdown)
    assert (tmp_path / "tables" / "masking.md").read_text() == table
    assert table.startswith("### Masking strategies (vit_micro12, photo_crops, epochs: 1)")
    assert "| density highest | simmim | pixels | 2 | 0.6100 | +0.1900 [+0.1000, +0.2800] |" in table
    assert "image-blind 0.5000" in table and "_profile: tiny; git_commit: abc" in table


def test_the_figure_is_saved_under_its_old_name(tmp_path):
    masking.evidence_figure(_result(tmp_path))
    assert (tmp_path / "figures" / "masking_strategies.png").stat().st_size > 0


def test_conclusions_known_answer(tmp_path):
    lines = masking.conclusions(_result(tmp_path)).split("\n")
    assert lines == [
        f"- {DENSITY} vs {RANDOM}, held-out masked L1: +0.19 (95 % CI [+0.1, +0.28], 2 paired seeds): the interval "
        "excludes 0; worse than random masking here.",   # higher L1 is worse
        f"- {DENSITY} vs {RANDOM}, probe top-1 %: +10 (95 % CI [+9, +11], 2 paired seeds): the interval excludes "
        "0; better than random masking here.",           # higher top-1 is better
        f"- {RANDOM}: held-out masked L1 is 0.84 × the image-blind predictor's (beats it).",
        f"- {DENSITY}: held-out masked L1 is 1.22 × the image-blind predictor's (does not beat it).",
    ]
