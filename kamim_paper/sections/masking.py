"""Section 11 (notebook ``11_masking``): what to hide — random, attention-guided and keypoint-guided masks, with
and without KAMIM's weights, on the pixel or the normalised-pixel target.

Every cell of the grid (arm × weighting method × target: :func:`kamim_paper.experiments.masking_grid.masking_variants`)
is pretrained once per seed; each seeded checkpoint is measured by its held-out masked L1 and a converged probe
(:func:`masking_evidence`) and compared with the random arm of the same method
and target by the mean paired difference and its 95 % interval. The paper has no such ablation.

The notebook calls, in order: :func:`parameters`, :func:`plan`, :func:`compute`, :func:`evidence_table`,
:func:`evidence_figure`, :func:`conclusions`.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from matplotlib.figure import Figure

from kamim_lib.provenance import provenance
from kamim_lib.stats import mean_and_ci
from kamim_paper.evidence.ablation import paired_entry
from kamim_paper.evidence.checkpoint_measures import (LOWER_IS_BETTER, METRICS, probe_baselines, probe_bench,
                                                      reconstruction_baselines, reconstruction_bench)
from kamim_paper.evidence.views import held_out_measures, probe_measures
from kamim_paper.experiments import masking_grid
from kamim_paper.experiments import runs as experiments
from kamim_paper.experiments.training import training_setup
from kamim_paper.results import summaries
from kamim_paper.results.artifacts import relative_to_repo, section_output_dir
from kamim_paper.results.figures import masking as masking_plots
from kamim_paper.results.labels import reference_label
from kamim_paper.results.sentences import difference, interval_sentence
from kamim_paper.results.tables.markdown import NOT_AVAILABLE, markdown_table, provenance_line
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import MaskingParams as Params

NAME = "masking"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants (e.g. an arm that needs a ViT) are all reported by name.
parameters = parameters_of(Params)


def _setup(params: Params):
    out_dir = section_output_dir(params.output_dir, params.profile)
    setup = training_setup(params.train_config, params.overrides, out_dir, params.device)
    grid = masking_grid.masking_variants(params.arms, params.methods, params.targets)
    variants = experiments.seeded_variants(grid, params.seeds)
    return out_dir, setup, grid, variants


def plan(params: Params) -> dict:
    """What will be pretrained: the grid's cells, the seeds and the number of runs (finished runs are reused)."""
    _, setup, grid, variants = _setup(params)
    return {"train_config": str(relative_to_repo(str(setup.train_config))),
            "cells": [variant.label for variant in grid], "seeds": params.seeds, "runs": len(variants)}


def compute(params: Params) -> SectionResult:
    """Pretrain (or reuse) every cell on every seed, measure each checkpoint and write the summary.

    Skipped while ``<output_dir>/masking/summary.json`` is current (same result-relevant parameters, same runs),
    unless ``params.force``. Finished runs are reused by run id: the random arm's runs are the pretraining
    section's when the configuration is the same.
    """
    out_dir, setup, _, variants = _setup(params)
    summary_path = summaries.section_dir(out_dir, NAME) / summaries.SUMMARY_NAME
    planned = experiments.planned_runs(setup, variants)
    if experiments.summary_is_stale(summary_path, params, params.force, planned):
        results = experiments.run_variants(setup, variants)
        evidence = masking_evidence(results, params.seeds, setup.pretrain_config([]),
                                    setup.classifier_config("linprobe", []))
        # Paths relative to the repository: committed summaries carry no machine paths (read back with from_repo).
        summaries.write_summary(summary_path, relative_to_repo({
            "section": NAME, "parameters": dataclasses.asdict(params), "provenance": provenance(params.profile),
            "train_config": str(setup.train_config), "results": results, "evidence": evidence}))
    return SectionResult(NAME, params, out_dir, summaries.read_summary(summary_path))


def _where(result: SectionResult) -> str:
    first = result["results"][0]["pretrain"]
    return f"{first['model']}, {first['dataset']}, epochs: {first['epochs']}"


def evidence_table(result: SectionResult) -> Markdown:
    """Each cell beside the random arm: per metric the mean over seeds and the paired difference with its 95 %
    interval, the baselines under the table (the paper's column: n/a)."""
    text = masking_table(result["evidence"], title=f"Masking strategies ({_where(result)})",
                         provenance=result["provenance"])
    return result.write_table("masking", text)


def evidence_figure(result: SectionResult) -> Figure:
    """Held-out masked L1 and probe top-1 per cell (mean and 95 % CI over seeds) beside the baselines."""
    figure = masking_plots.plot_masking_evidence(result["evidence"], title=f"Masking strategies ({_where(result)})")
    return result.save_figure(figure, "masking_strategies")


def conclusions(result: SectionResult) -> Markdown:
    """What the comparison says, generated from the numbers (:func:`masking_sentences`: one
    sentence per compared cell and metric, one per cell on the image-blind floor)."""
    return bullet_lines(masking_sentences(result["evidence"]))


# --- the numbers of the grid, and their table and sentences ---------------------------------------------------------

def masking_evidence(results: Sequence[dict], seeds: Sequence[int], pretrain_config, probe_config, *,
                     image_blind_passes: int = 2) -> dict:
    """Measure every seeded checkpoint of the grid and compare each cell with the random arm.

    Args:
        results: :func:`~kamim_paper.experiments.runs.run_variants` results of the seeded grid (pretraining only).
        seeds: the paired seeds.
        pretrain_config: the section's base pretraining configuration (data, geometry) for the held-out set.
        probe_config: a linear-probe configuration (data, probe_layer, pooling) for the probe features; its
            ``max_eval_samples`` also cuts the held-out set.

    Returns:
        ``{"seeds", "cells": {label: {"arm", "method", "target", "val_masked_l1": [per seed], "top1": [...]}},
        "baselines": {"image_blind", "random_init_l1", "raw_pixels", "random_init_top1"},
        "differences": {label: {"reference", metric: {"mean", "ci95"}}}}`` (no entry for the reference cells;
        ``ci95`` None with a single seed).
    """
    reconstruction = reconstruction_bench(pretrain_config, max_images=probe_config.max_eval_samples)
    probe = probe_bench(probe_config)
    measured = {"val_masked_l1": held_out_measures(results, seeds, reconstruction)[0],
                "top1": probe_measures(results, seeds, probe)}
    fields = {result["label"]: result["fields"] for result in results}
    cells = {label: {"arm": field["arm"], "method": field["method"], "target": field["target"],
                     **{metric: [float(value) for value in measured[metric][label]] for metric in METRICS}}
             for label, field in fields.items()}
    differences = {}
    for label, cell in cells.items():
        reference = reference_label(label, cell)
        if label == reference or reference not in cells:
            continue
        differences[label] = {"reference": reference,
                              **{metric: paired_entry(cell[metric], cells[reference][metric]) for metric in METRICS}}
    blind = reconstruction_baselines(reconstruction, seeds, image_blind_passes=image_blind_passes)
    pixels = probe_baselines(probe, seeds)
    baselines = {"image_blind": blind["image_blind"], "random_init_l1": blind["random_init"],
                 "raw_pixels": pixels["raw_pixels"], "random_init_top1": pixels["random_init"]}
    return {"seeds": [int(seed) for seed in seeds], "cells": cells, "baselines": baselines,
            "differences": differences, "held_out_images": int(len(reconstruction.held_out.images)),
            "probe": f"logistic regression on block-{probe_config.probe_layer} {probe_config.pooling}-pooled "
                     "features"}


def _interval_text(entry: dict | None, digits: int) -> str:
    if entry is None:
        return "reference"
    return difference(entry["mean"], entry["ci95"], f"+.{digits}f")


def masking_rows(evidence: dict) -> list[dict]:
    """Table rows: per cell, n seeds, each metric's mean and its paired difference to the random arm (95 % CI);
    the paper's number is n/a (no paper ran these combinations)."""
    rows = []
    for label, cell in evidence["cells"].items():
        difference = evidence["differences"].get(label)
        row = {"arm": cell["arm"], "method": cell["method"], "target": cell["target"],
               "n": str(len(evidence["seeds"]))}
        for metric, name in METRICS.items():
            values = cell[metric]
            mean = mean_and_ci(values)[0] if len(values) >= 2 else values[0]
            digits = 4 if metric == "val_masked_l1" else 2
            row[name] = f"{mean:.{digits}f}"
            row[f"Δ {name} vs random [95 % CI]"] = _interval_text(None if difference is None
                                                                 else difference[metric], digits)
        row["ours"] = None
        row["paper"] = None
        rows.append(row)
    return rows


def masking_table(evidence: dict, *, title: str, provenance: dict | None = None) -> str:
    """Markdown table of :func:`masking_rows` with the baselines and the provenance under it."""
    rows = masking_rows(evidence)
    header = [key for key in rows[0] if key not in ("ours", "paper")] + ["paper"]
    body = [[row[key] for key in header[:-1]] + [NOT_AVAILABLE] for row in rows]
    baselines = evidence["baselines"]
    text = (f"### {title}\n\n" + markdown_table(header, body) +
            f"\n\nBaselines — held-out masked L1: image-blind {baselines['image_blind']:.4f}, random-init "
            f"{baselines['random_init_l1']:.4f}; probe top-1: raw pixels {baselines['raw_pixels']:.2f} %, random-init "
            f"encoder {baselines['random_init_top1']:.2f} %. Probe: {evidence['probe']}; held-out set: "
            f"{evidence['held_out_images']} validation images. Paper: n/a (the paper has no masking ablation).\n")
    if provenance is not None:
        text += "\n" + provenance_line(provenance) + "\n"
    return text


def masking_sentences(evidence: dict) -> list[str]:
    """One generated sentence per compared cell and metric, and one on the image-blind floor."""
    sentences = []
    seeds = len(evidence["seeds"])
    for label, difference in evidence["differences"].items():
        for metric, name in METRICS.items():
            sentences.append(interval_sentence(
                f"{label} vs {difference['reference']}, {name}", difference[metric], seeds, "+.4g",
                lambda better: f"{'better' if better else 'worse'} than random masking here",
                lower_is_better=LOWER_IS_BETTER[metric]))
    blind = evidence["baselines"]["image_blind"]
    for label, cell in evidence["cells"].items():
        ratio = sum(cell["val_masked_l1"]) / len(cell["val_masked_l1"]) / blind
        verdict = "beats" if ratio < 1 else "does not beat"
        sentences.append(f"{label}: held-out masked L1 is {ratio:.2f} × the image-blind predictor's ({verdict} it).")
    return sentences


__all__ = ["Params", "parameters", "plan", "compute", "evidence_table", "evidence_figure", "conclusions",
           "masking_evidence", "masking_rows", "masking_table", "masking_sentences"]
