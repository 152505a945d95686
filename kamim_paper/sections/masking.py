"""Section 11 (notebook ``11_masking``): what to hide — random, attention-guided and keypoint-guided masks, with
and without KAMIM's weights, on the pixel or the normalised-pixel target.

Every cell of the grid (arm × weighting method × target: :func:`kamim_paper.experiments.masking_grid.masking_variants`)
is pretrained once per seed; each seeded checkpoint is measured by its held-out masked L1 and a converged probe
(:func:`kamim_paper.sections.masking_views.masking_evidence`) and compared with the random arm of the same method
and target by the mean paired difference and its 95 % interval. The paper has no such ablation.

The notebook calls, in order: :func:`parameters`, :func:`plan`, :func:`compute`, :func:`evidence_table`,
:func:`evidence_figure`, :func:`conclusions`.
"""
from __future__ import annotations

import dataclasses

from matplotlib.figure import Figure

from kamim_lib.provenance import provenance
from kamim_paper.experiments import masking_grid
from kamim_paper.experiments import runs as experiments
from kamim_paper.experiments.training import training_setup
from kamim_paper.results import summaries
from kamim_paper.results.artifacts import relative_to_repo, section_output_dir
from kamim_paper.results.figures import masking as masking_plots
from kamim_paper.sections import masking_views
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
        evidence = masking_views.masking_evidence(results, params.seeds, setup.pretrain_config([]),
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
    text = masking_views.masking_table(result["evidence"], title=f"Masking strategies ({_where(result)})",
                                       provenance=result["provenance"])
    return result.write_table("masking", text)


def evidence_figure(result: SectionResult) -> Figure:
    """Held-out masked L1 and probe top-1 per cell (mean and 95 % CI over seeds) beside the baselines."""
    figure = masking_plots.plot_masking_evidence(result["evidence"], title=f"Masking strategies ({_where(result)})")
    return result.save_figure(figure, "masking_strategies")


def conclusions(result: SectionResult) -> Markdown:
    """What the comparison says, generated from the numbers (:func:`~kamim_paper.sections.masking_views.
    masking_sentences`: one sentence per compared cell and metric, one per cell on the image-blind floor)."""
    return bullet_lines(masking_views.masking_sentences(result["evidence"]))


__all__ = ["Params", "parameters", "plan", "compute", "evidence_table", "evidence_figure", "conclusions"]
