"""Section 6 (notebook ``06_wps_temperature_sweep``): KAMIM's weight patch size w_ps x temperature T, and controls.

KAMIM is pretrained once per (``w_ps``, ``T``) cell and seed, and (``controls``) again with its weights shuffled
across the patches of each image and with ``loss_normalize=weight``; every checkpoint is measured as in sections 2
and 3 (held-out masked L1 and a converged probe, beside their baselines). Every row is compared with SimMIM, and each
control with KAMIM as configured, by the mean paired difference and its 95 % interval; the heatmaps' colour scale is
centred on SimMIM.

The notebook calls, in order: :func:`parameters`, :func:`plan`, :func:`compute`, :func:`heatmaps_figure`,
:func:`tables`, :func:`comparisons_figure`, :func:`deciles_figure`, :func:`conclusions`.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from matplotlib.figure import Figure

from kamim_paper.evidence.checkpoint_measures import METRICS
from kamim_paper.evidence.ablation import variants_evidence
from kamim_paper.experiments import runs as experiments
from kamim_paper.experiments.training import training_setup
from kamim_paper.results import comparison_table, provenance, summaries
from kamim_paper.results.artifacts import relative_to_repo, section_output_dir
from kamim_paper.results.figures import experiments as experiment_plots
from kamim_paper.results.tables import experiments as experiment_tables
from kamim_paper.results.sentences import ablation_conclusions
from kamim_paper.results.tables.ablation import ablation_tables
from kamim_paper.results.tables.markdown import provenance_line
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import SweepParams as Params

NAME = "sweep"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


@dataclasses.dataclass(frozen=True)
class _Setup:
    out_dir: object
    setup: object
    grid_variants: list
    extra: list
    variants: list
    reference_config: object
    probe_config: object
    default_label: str | None
    controls: list


def sweep_pairs(labels: Sequence[str], default_label: str | None, controls: Sequence[str]) -> list[tuple[str, str]]:
    """Every variant against SimMIM, then each control against ``default_label`` (KAMIM as configured): a control
    that matches KAMIM says that what it removes does not matter."""
    pairs = [(label, "simmim") for label in labels if label != "simmim"]
    if default_label is not None:
        pairs += [(label, default_label) for label in controls if label in labels]
    return pairs


def _setup(params: Params) -> _Setup:
    out_dir = section_output_dir(params.output_dir, params.profile)
    setup = training_setup(params.train_config, params.overrides, out_dir, params.device)
    grid_variants = experiments.sweep_variants(params.weight_patch_sizes, params.temperatures)
    extra = experiments.control_variants(include_simmim="simmim" in params.methods, include_kamim=False) \
        if params.controls else [variant for variant in experiments.control_variants(include_kamim=False)[:1]
                                 if "simmim" in params.methods]
    variants = experiments.seeded_variants([*extra, *grid_variants], params.seeds)
    # KAMIM as configured: its data and mask geometry define the held-out set, its detector and w_ps the deciles
    reference_config = setup.pretrain_config(["method=kamim"])
    probe_config = setup.classifier_config("linprobe", variants[0].overrides, pretrained="scratch")
    default_label = next((variant.label for variant in grid_variants
                          if variant.fields["weight_patch_size"] == reference_config.weight_patch_size
                          and variant.fields["temperature"] == reference_config.temperature), None)
    controls = [variant.label for variant in experiments.CONTROL_VARIANTS] if params.controls else []
    return _Setup(out_dir, setup, grid_variants, extra, variants, reference_config, probe_config, default_label,
                  controls)


def plan(params: Params) -> dict:
    """What will be trained: runs (variant x seed), seeds, the grid's cells, the controls, which cell is KAMIM as
    configured, and the engine protocol run besides."""
    state = _setup(params)
    return {"runs": len(state.variants), "seeds": params.seeds,
            "cells": [variant.label for variant in state.grid_variants],
            "controls": [variant.label for variant in state.extra], "KAMIM as configured": state.default_label,
            "engine protocol": params.protocol}


def compute(params: Params) -> SectionResult:
    """Pretrain (or reuse) every cell and control x seed, measure it and write the summary.

    Skipped while ``<output_dir>/sweep/summary.json`` is current (same result-relevant parameters, same runs),
    unless ``params.force``.
    """
    state = _setup(params)
    summary_path = summaries.section_dir(state.out_dir, NAME) / summaries.SUMMARY_NAME
    if experiments.summary_is_stale(summary_path, params, params.force,
                                    experiments.planned_runs(state.setup, state.variants, params.engine_protocol)):
        results = experiments.run_variants(state.setup, state.variants, params.engine_protocol)
        pairs = sweep_pairs([variant.label for variant in [*state.extra, *state.grid_variants]],
                                           state.default_label, state.controls)
        evidence = variants_evidence(results, params.seeds, state.reference_config,
                                                    state.probe_config, pairs=pairs)
        summaries.write_summary(summary_path, relative_to_repo({
            "section": NAME, "parameters": dataclasses.asdict(params), "provenance": provenance(params.profile),
            "train_config": str(state.setup.train_config), "results": results, "evidence": evidence}))
    return SectionResult(NAME, params, state.out_dir, summaries.read_summary(summary_path))


def _where(reference_config) -> str:
    return f"{reference_config.model}, {reference_config.dataset}"


def heatmap_panels(evidence: dict, grid_variants: list, weight_patch_sizes: list[int],
                   seeds: int) -> tuple[dict, dict, dict]:
    """Per metric, the (w_ps rows x T columns) grid of the mean over seeds (None where a cell is missing), the value
    the colour scale is centred on (SimMIM's mean; None without SimMIM), and the same grid of per-seed values (what
    a one-cell grid draws instead of a heatmap)."""
    panels, centers, seed_values = {}, {}, {}
    for metric, name in METRICS.items():
        per_seed = evidence[metric]
        means = {label: sum(per) / len(per) for label, per in per_seed.items()}
        panel = f"{name}, mean of {seeds} seed(s)"
        rows = [[variant for variant in grid_variants if variant.fields["weight_patch_size"] == size]
                for size in weight_patch_sizes]
        panels[panel] = [[means.get(variant.label) for variant in row] for row in rows]
        seed_values[panel] = [[list(per_seed.get(variant.label, [])) for variant in row] for row in rows]
        centers[panel] = means.get("simmim")
    return panels, centers, seed_values


def heatmaps_figure(result: SectionResult) -> Figure:
    """Held-out masked L1 and converged-probe top-1 over the w_ps x T grid, colour scale centred on SimMIM (a
    one-cell grid: the cell's seeds and interval beside SimMIM's mean instead of a heatmap)."""
    params, state = result.params, _setup(result.params)
    panels, centers, seed_values = heatmap_panels(result["evidence"], state.grid_variants, params.weight_patch_sizes,
                                                  len(params.seeds))
    figure = experiment_plots.plot_heatmaps(
        panels, row_labels=params.weight_patch_sizes, column_labels=params.temperatures,
        row_name="w_ps (px)", column_name="temperature T", title=f"KAMIM w_ps x T ({_where(state.reference_config)})",
        centers=centers, seed_values=seed_values)
    return result.save_figure(figure, "wps_temperature_sweep")


def tables(result: SectionResult) -> Markdown:
    """The paired comparisons against SimMIM and KAMIM with the baselines (also written alone as the README's
    digest, ``sweep_evidence.md``), the engine protocol's runs if any, and the pretraining losses."""
    params, state = result.params, _setup(result.params)
    evidence, where = result["evidence"], _where(state.reference_config)
    parts = [ablation_tables(
        evidence, title=f"w_ps x T sweep and controls: held-out masked L1 and converged probe (block "
                        f"{state.probe_config.probe_layer}), {len(evidence['seeds'])} paired seed(s) ({where})")
             + provenance_line(result["provenance"])]
    if params.engine_protocol is not None:
        parts.append(comparison_table(
            f"w_ps x T sweep and controls: {params.protocol} with the engine's head, every seed ({where})",
            experiment_tables.evaluation_rows(result["results"], with_paper=False),
            label_keys=("variant", "seed", "metric"), provenance=result["provenance"]))
    parts.append(comparison_table(f"w_ps x T sweep and controls: pretraining ({where})",
                                  experiment_tables.pretrain_rows(result["results"]),
                                  label_keys=("variant", "seed", "epochs", "loss_normalize", "metric"), digits=4,
                                  provenance=result["provenance"]))
    result.write_table("sweep_evidence", parts[0])  # the README's digest
    return result.write_table("sweep", "\n\n".join(parts))


def comparisons_figure(result: SectionResult) -> Figure:
    """Every paired difference (cells and controls vs SimMIM, controls vs KAMIM) with its 95 % interval."""
    title = f"w_ps x T sweep and controls ({_where(_setup(result.params).reference_config)}): paired differences"
    return result.save_figure(experiment_plots.ablation_comparisons_figure(result["evidence"], title=title),
                              "sweep_comparisons")


def deciles_figure(result: SectionResult) -> Figure:
    """Unweighted masked-patch error per keypoint-density bin, per variant (mean and 95 % CI over seeds)."""
    return result.save_figure(experiment_plots.ablation_density_figure(result["evidence"]), "sweep_error_by_density")


def conclusions(result: SectionResult) -> Markdown:
    """One generated sentence per paired comparison and per density-bin comparison."""
    return bullet_lines(ablation_conclusions(result["evidence"]))


__all__ = ["Params", "parameters", "plan", "compute", "heatmaps_figure", "tables", "comparisons_figure",
           "deciles_figure", "conclusions", "heatmap_panels"]
