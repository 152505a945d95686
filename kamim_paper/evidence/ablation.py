"""Notebooks 05 and 06: many pretrained variants (detectors; the w_ps × T grid and the weighting controls), each
measured on every paired seed by held-out masked L1 and a converged probe, compared pair by pair with 95 % intervals.

The evidence record (``summary.json["evidence"]`` of ``detectors`` and ``sweep``)::

    {"seeds": [...],
     "val_masked_l1": {label: [per seed]}, "top1": {label: [per seed]},
     "baselines": {"image_blind", "random_init_l1", "raw_pixels", "random_init_top1"},
     "comparisons": [{"a", "b", "metric", "mean", "ci95"}],      # mean of a − b over seeds; ci95 None with one seed
     "error_by_density_decile": {label: [per decile: error mean and 95 % interval over seeds]},
     "decile_comparisons": [{"a", "b", "deciles": [{"decile", "mean", "ci95"}]}],  # paired, per decile
     "deciles_by": {"detector", "weight_patch_size"}, "weighting": {...}, "held_out": {...}, "classifier": "..."}

Every checkpoint is measured on the same benches as notebooks 02 and 03 (:mod:`kamim_paper.evidence.checkpoint_measures`),
so SimMIM's and KAMIM's rows here equal theirs, and their values are read back from the measurement cache.
"""
from __future__ import annotations

from typing import Sequence

from kamim_lib.stats import paired_difference_ci
from kamim_paper.evidence.checkpoint_measures import (probe_baselines, probe_bench, reconstruction_baselines,
                                                      reconstruction_bench)
from kamim_paper.evidence.views import (decile_summary, held_out_description, held_out_measures, probe_description,
                                        probe_measures, weight_concentration)


def paired_entry(a: Sequence[float], b: Sequence[float]) -> dict:
    """``{"mean", "ci95"}`` of ``a − b`` over paired seeds (``ci95`` None with a single seed)."""
    if len(a) >= 2:
        mean, low, high = paired_difference_ci(a, b)
        return {"mean": mean, "ci95": [low, high]}
    return {"mean": float(a[0]) - float(b[0]), "ci95": None}


def paired_comparisons(values: dict[str, dict[str, list]], pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """Each pair ``(a, b)`` on each metric: ``{"a", "b", "metric", "mean", "ci95"}``.

    Args:
        values: metric -> label -> one value per seed (the same seed order everywhere).
        pairs: the labels compared, ``a − b``; pairs naming a label without values are skipped.
    """
    comparisons = []
    for a, b in pairs:
        for metric, by_label in values.items():
            if a in by_label and b in by_label:
                comparisons.append({"a": a, "b": b, "metric": metric, **paired_entry(by_label[a], by_label[b])})
    return comparisons


def decile_comparisons(deciles: dict[str, list], pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """Per pair ``(a, b)``, the paired difference of the masked-patch error in each keypoint-density decile.

    Args:
        deciles: label -> one decile list per seed (:func:`~kamim_paper.evidence.weighting.error_by_density_decile`,
            the same held-out patches for every checkpoint, so decile k holds the same patches everywhere).
        pairs: the compared labels; pairs naming a label without deciles are skipped.

    Returns:
        ``[{"a", "b", "deciles": [{"decile", "mean", "ci95"}]}]`` (``ci95`` None with a single seed).
    """
    comparisons = []
    for a, b in pairs:
        if a not in deciles or b not in deciles:
            continue
        rows = []
        for index, first in enumerate(deciles[a][0]):
            rows.append({"decile": first["decile"], **({"label": first["label"]} if "label" in first else {}),
                         **paired_entry([run[index]["error_mean"] for run in deciles[a]],
                                        [run[index]["error_mean"] for run in deciles[b]])})
        comparisons.append({"a": a, "b": b, "deciles": rows})
    return comparisons


def variants_evidence(results: Sequence[dict], seeds: Sequence[int], pretrain_config, probe_config, *,
                      pairs: Sequence[tuple[str, str]], image_blind_passes: int = 2) -> dict:
    """Measure every seeded checkpoint of the variants and compare the ``pairs`` (see the module docstring).

    Args:
        results: seeded :func:`~kamim_paper.experiments.runs.run_variants` results (each with a pretrain
            checkpoint, or an evaluation naming one).
        seeds: the paired seeds.
        pretrain_config: the section's pretraining configuration as configured (data, mask geometry; its detector
            and w_ps cut the density deciles; its T gives the weight concentration).
        probe_config: a linear-probe configuration (data, probe_layer, pooling; its ``max_eval_samples`` also cuts
            the held-out set of the reconstruction error).
        pairs: ``(a, b)`` label pairs to compare (:func:`kamim_paper.sections.detectors.detector_pairs`,
            :func:`kamim_paper.sections.sweep.sweep_pairs`).
    """
    reconstruction = reconstruction_bench(pretrain_config, max_images=probe_config.max_eval_samples)
    probe = probe_bench(probe_config)
    masked_l1, deciles = held_out_measures(results, seeds, reconstruction)
    top1 = probe_measures(results, seeds, probe)
    blind = reconstruction_baselines(reconstruction, seeds, image_blind_passes=image_blind_passes)
    pixels = probe_baselines(probe, seeds)
    return {"seeds": [int(seed) for seed in seeds], "val_masked_l1": masked_l1, "top1": top1,
            "baselines": {"image_blind": blind["image_blind"], "random_init_l1": blind["random_init"],
                          "raw_pixels": pixels["raw_pixels"], "random_init_top1": pixels["random_init"]},
            "comparisons": paired_comparisons({"val_masked_l1": masked_l1, "top1": top1}, pairs),
            "error_by_density_decile": {label: decile_summary(runs) for label, runs in deciles.items()},
            "decile_comparisons": decile_comparisons(deciles, pairs),
            "deciles_by": {"detector": pretrain_config.detector,
                           "weight_patch_size": pretrain_config.weight_patch_size},
            "weighting": weight_concentration(reconstruction),
            "held_out": held_out_description(reconstruction), "classifier": probe_description(probe_config)}
