"""Notebook 11's library: the grid comes from the registries, and the table and sentences follow the numbers."""
import pytest

from kamim_paper.experiments.runs import seeded_variants
from kamim_paper.experiments.masking_grid import arm_overrides, masking_arms, masking_variants, pixel_target_methods
from kamim_paper.results.labels import reference_label
from kamim_paper.runner.parameters import notebook_parameters
from kamim_paper.sections.masking import masking_rows, masking_sentences
from kamim_paper.sections.params import MaskingParams, section_defaults


def test_the_arms_are_every_strategy_and_mode_of_the_registry():
    assert masking_arms() == ("random", "attmask high", "attmask low", "attmask hint", "density highest",
                              "density lowest", "density sample")
    assert arm_overrides("random") == ("masking=random",)
    assert arm_overrides("density sample") == ("masking=density", "density_mode=sample")
    assert pixel_target_methods() == ("simmim", "kamim")   # semanticmim has no `target` option
    with pytest.raises(ValueError, match="arm"):
        arm_overrides("attmask medium")


def test_the_grid_is_arm_major_and_seeding_pairs_every_cell():
    grid = masking_variants(["random", "attmask hint"], ["simmim", "kamim"], ["pixels", "norm_pix"])
    assert len(grid) == 8 and grid[0].label == "random | simmim | pixels"
    assert grid[-1].overrides == ("method=kamim", "masking=attmask", "attmask_mode=hint", "target=norm_pix")
    seeded = seeded_variants(grid, [3, 4])
    assert len(seeded) == 16 and {variant.fields["seed"] for variant in seeded} == {3, 4}
    assert reference_label(grid[-1].label, grid[-1].fields) == "random | kamim | norm_pix"


def test_the_masking_parameters_take_only_registered_arms_weightings_and_targets():
    defaults = {**section_defaults(MaskingParams), "seeds": [0]}
    with pytest.raises(ValueError, match="methods: item='semanticmim' is not allowed; choose one of simmim, kamim"):
        notebook_parameters({**defaults, "methods": ["semanticmim"]}, MaskingParams)
    with pytest.raises(ValueError, match="arms: item='attmask medium' is not allowed.*did you mean"):
        notebook_parameters({**defaults, "arms": ["random", "attmask medium"]}, MaskingParams)
    with pytest.raises(ValueError, match="more than once"):
        notebook_parameters({**defaults, "arms": ["random", "random"]}, MaskingParams)


EVIDENCE = {
    "seeds": [0, 1, 2],
    "cells": {"random | simmim | pixels": {"arm": "random", "method": "simmim", "target": "pixels",
                                           "val_masked_l1": [0.50, 0.52, 0.51], "top1": [40.0, 42.0, 41.0]},
              "density highest | simmim | pixels": {"arm": "density highest", "method": "simmim", "target": "pixels",
                                                    "val_masked_l1": [0.60, 0.62, 0.61],
                                                    "top1": [41.0, 40.0, 43.0]}},
    "baselines": {"image_blind": 0.55, "random_init_l1": 0.8, "raw_pixels": 30.0, "random_init_top1": 20.0},
    "differences": {"density highest | simmim | pixels": {
        "reference": "random | simmim | pixels",
        "val_masked_l1": {"mean": 0.10, "ci95": [0.09, 0.11]},
        "top1": {"mean": 0.33, "ci95": [-3.5, 4.2]}}},
    "held_out_images": 355, "probe": "logistic regression"}


def test_rows_and_sentences_are_generated_from_the_numbers():
    rows = masking_rows(EVIDENCE)
    assert rows[0]["Δ held-out masked L1 vs random [95 % CI]"] == "reference"
    assert rows[1]["held-out masked L1"] == "0.6100"
    assert rows[1]["Δ held-out masked L1 vs random [95 % CI]"] == "+0.1000 [+0.0900, +0.1100]"
    sentences = masking_sentences(EVIDENCE)
    assert any("masked L1: +0.1" in s and "excludes 0; worse than random" in s for s in sentences)
    assert any("probe top-1 %" in s and "contains 0" in s for s in sentences)
    assert any(s.startswith("random | simmim | pixels: held-out masked L1 is 0.93") and "beats it" in s
               for s in sentences)
    assert any(s.startswith("density highest | simmim | pixels: held-out masked L1 is 1.11") and "does not beat"
               in s for s in sentences)
