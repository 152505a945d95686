"""Notebook 11's numbers: every masking arm × weighting × target, measured on every paired seed, with baselines.

For each seeded pretraining checkpoint of the grid (:func:`kamim_paper.experiments.masking_grid.masking_variants`):

- the held-out masked L1 (unweighted, masked pixels of validation images, the same masks for every model:
  :mod:`kamim_paper.evidence.reconstruction`) — lower is better;
- the probe top-1 of a converged logistic regression on the frozen block-``probe_layer`` features
  (:mod:`kamim_paper.evidence.probing`) — higher is better.

Each cell (arm, method, target) is compared with the ``random`` arm of the same method and target on the same
seeds: mean paired difference and its 95 % Student-t interval (:func:`kamim_lib.stats.paired_difference_ci`).
Baselines: the image-blind predictor and a random-init model (masked L1), raw pixels and a random-init encoder
(top-1). Nothing is trained here except the scikit-learn classifiers.
"""
from __future__ import annotations

from typing import Sequence

from kamim_paper.sections.ablation_views import interval_sentence
from kamim_paper.evidence.checkpoint_measures import LOWER_IS_BETTER, METRICS

REFERENCE_ARM = "random"


def reference_label(label: str, fields: dict) -> str:
    """The label of the cell that ``label`` is compared with: the random arm, same method and target."""
    return label.replace(fields["arm"], REFERENCE_ARM, 1)


def masking_evidence(results: Sequence[dict], seeds: Sequence[int], pretrain_config, probe_config, *,
                     image_blind_passes: int = 2) -> dict:
    """Measure every seeded checkpoint of the grid and compare each cell with the random arm.

    Args:
        results: :func:`~kamim_paper.experiments.runs.run_variants` results of the seeded grid (pretraining only).
        seeds: the paired seeds.
        pretrain_config: the section's base pretraining configuration (data, geometry) for the held-out set.
        probe_config: a linear-probe configuration (data, probe_layer, pooling) for the probe features.

    Returns:
        ``{"seeds", "cells": {label: {"arm", "method", "target", "val_masked_l1": [per seed], "top1": [...]}},
        "baselines": {"image_blind", "random_init_l1", "raw_pixels", "random_init_top1"},
        "differences": {label: {"reference", metric: {"mean", "ci95"}}}}`` (no entry for the reference cells;
        ``ci95`` None with a single seed).
    """
    from kamim_paper.sections.ablation_views import paired_entry
    from kamim_paper.evidence.checkpoint_measures import (probe_baselines, probe_bench, reconstruction_baselines,
                                                          reconstruction_bench)
    from kamim_paper.evidence.views import held_out_measures, probe_measures

    reconstruction, probe = reconstruction_bench(pretrain_config), probe_bench(probe_config)
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
    if entry["ci95"] is None:
        return f"{entry['mean']:+.{digits}f} (one seed: no interval)"
    low, high = entry["ci95"]
    return f"{entry['mean']:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def masking_rows(evidence: dict) -> list[dict]:
    """Table rows: per cell, n seeds, each metric's mean and its paired difference to the random arm (95 % CI);
    the paper's number is n/a (no paper ran these combinations)."""
    from kamim_lib.stats import mean_and_ci

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
    from kamim_paper.results import markdown_table
    from kamim_paper.results.tables.markdown import NOT_AVAILABLE, provenance_line

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
