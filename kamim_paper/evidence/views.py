"""The evidence the training notebooks put beside their headline numbers (``summary.json["evidence"]``).

Each function takes the notebook's seeded results (:func:`kamim_paper.experiments.runs.run_variants` over
:func:`~kamim_paper.experiments.runs.seeded_variants`) and measures the checkpoints they name on the benches of
:mod:`kamim_paper.evidence.checkpoint_measures` (values cached on disk); nothing is trained here except scikit-learn
classifiers on cached features.
"""
from __future__ import annotations

from typing import Sequence

from kamim_lib.stats import mean_and_ci
from kamim_lib.weighting import density_to_weights
from kamim_paper.evidence import weighting
from kamim_paper.evidence.checkpoint_measures import (checkpoint_of, held_out_errors, probe_baselines, probe_bench,
                                                      probe_top1, reconstruction_baselines, reconstruction_bench)
from kamim_paper.evidence.records import evidence_record
from kamim_paper.experiments.runs import per_seed

PRETRAIN_BASELINES = {"image_blind": "image-blind (per-pixel median of augmented training crops)",
                      "random_init": "random-init model"}
PROBE_BASELINES = {"raw_pixels": "raw pixels (4x4 average-pooled), same classifier",
                   "random_init": "random-init encoder, same block and classifier"}
FINETUNE_BASELINES = {"scratch": "trained from scratch, same budget (mean over the seeds)"}


def decile_summary(per_seed_deciles: Sequence[Sequence[dict]]) -> list[dict]:
    """Per keypoint-density bin, the mean masked-patch error over seeds and its 95 % interval.

    Args:
        per_seed_deciles: one list of decile dicts per seed
            (:func:`~kamim_paper.evidence.weighting.error_by_density_decile`, the same held-out patches for every seed).

    Returns:
        One dict per density bin: its ``decile`` (bin number, 0 = no keypoints), ``label``, density range, ``count``
        (= ``patches``), and ``error_mean``, ``error_low``,
        ``error_high`` over seeds (no ``error_low`` / ``error_high`` with a single seed).
    """
    rows = []
    for index, first in enumerate(per_seed_deciles[0]):
        row = {key: first[key] for key in ("decile", "label", "density_low", "density_high", "density_mean", "count",
                                           "patches") if key in first}
        values = [run[index]["error_mean"] for run in per_seed_deciles]
        if len(values) >= 2:
            mean, low, high = mean_and_ci(values)
            row.update(error_mean=mean, error_low=low, error_high=high)
        else:  # one seed: its value, no interval
            row["error_mean"] = float(values[0])
        rows.append(row)
    return rows


def weight_concentration(bench) -> dict:
    """How concentrated KAMIM's weights are on the bench's held-out images (its config's w_ps and T)."""
    config = bench.config
    weights = density_to_weights(bench.density, config.temperature)
    return {"weight_patch_size": config.weight_patch_size, "temperature": config.temperature,
            "detector": config.detector, "top10_weight_share": weighting.top_weight_share(weights, 0.1),
            "max_weight_mean": float(weights.flatten(1).max(dim=1).values.mean())}


def held_out_measures(results: Sequence[dict], seeds: Sequence[int], bench) -> tuple[dict, dict]:
    """Held-out masked L1 and decile errors of every seeded checkpoint: ``({label: [L1 per seed]},
    {label: [decile list per seed]})``."""
    measured = {(result["label"], result["fields"]["seed"]): held_out_errors(checkpoint_of(result), bench)
                for result in results}
    key = lambda result: (result["label"], result["fields"]["seed"])  # noqa: E731
    return (per_seed(results, lambda result: measured[key(result)]["val_masked_l1"], seeds),
            per_seed(results, lambda result: measured[key(result)]["deciles"], seeds))


def probe_measures(results: Sequence[dict], seeds: Sequence[int], bench) -> dict:
    """Converged probe top-1 of every seeded checkpoint: ``{label: [top-1 per seed]}``."""
    return per_seed(results, lambda result: probe_top1(checkpoint_of(result), bench), seeds)


def pretrain_evidence(results: Sequence[dict], seeds: Sequence[int], config, *, image_blind_passes: int = 2
                      ) -> dict:
    """Held-out masked L1 of every seeded checkpoint, the baselines, and what the weighting does.

    Args:
        results: seeded pretrain results (labels "simmim" and "kamim", fields with "seed").
        seeds: the paired seeds.
        config: the pretraining configuration of the section (data, geometry, w_ps, T).
        image_blind_passes: augmented copies of each training image behind the image-blind median.

    Returns:
        The evidence record (metric ``val_masked_l1``) plus ``"ratio_to_image_blind"`` (method -> mean / image-blind),
        ``"held_out"`` (split, images, mask geometry) and ``"weighting"``: for each method the error of masked
        patches per keypoint-density decile (mean and 95 % interval over seeds) and the weight concentration of
        the held-out images (share of the total weight in the heaviest 10 % of patches).
    """
    bench = reconstruction_bench(config)
    values, deciles = held_out_measures(results, seeds, bench)
    baselines = reconstruction_baselines(bench, seeds, image_blind_passes=image_blind_passes)
    record = evidence_record("val_masked_l1", seeds, values, baselines)
    record["ratio_to_image_blind"] = {label: sum(per) / len(per) / baselines["image_blind"]
                                      for label, per in values.items()}
    record["held_out"] = held_out_description(bench)
    record["weighting"] = {**weight_concentration(bench),
                           "error_by_density_decile": {label: decile_summary(runs)
                                                       for label, runs in deciles.items()}}
    return record


def held_out_description(bench) -> dict:
    """The held-out set in a summary: split, image count, mask geometry, token grid."""
    config = bench.config
    return {"split": "val", "images": int(len(bench.held_out.images)), "mask_ratio": config.mask_ratio,
            "mask_patch_size": config.mask_patch_size, "token_grid": int(bench.held_out.masks.shape[-1])}


def linprobe_evidence(results: Sequence[dict], seeds: Sequence[int], config) -> dict:
    """Converged logistic-regression top-1 on the frozen block-``probe_layer`` features of every seeded checkpoint,
    beside the raw-pixel and random-init-encoder baselines, and the engine's SGD-head top-1 per seed.

    Args:
        results: seeded linprobe results (each names its pretrained checkpoint).
        seeds: the paired seeds.
        config: the linear-probe configuration (data, probe_layer, pooling).
    """
    bench = probe_bench(config)
    record = evidence_record("top1", seeds, probe_measures(results, seeds, bench), probe_baselines(bench, seeds))
    record["classifier"] = probe_description(config)
    record["sgd_head_top1"] = per_seed(results, lambda result: result["evaluation"]["top1"], seeds)
    record["split_sizes"] = {"train": int(len(bench.train.labels)), "val": int(len(bench.val.labels))}
    return record


def probe_description(config) -> str:
    """The converged classifier, in words (the same for every section)."""
    return ("scikit-learn LogisticRegression (L-BFGS, C=1, standardised features) on cached "
            f"block-{config.probe_layer} {config.pooling}-pooled features")


def finetune_evidence(results: Sequence[dict], scratch: Sequence[dict], seeds: Sequence[int]) -> dict:
    """Fine-tuning top-1 per seed of each method, beside training from scratch with the same budget.

    Args:
        results: seeded finetune results of the pretrained methods.
        scratch: seeded finetune results from random initialisation (label "scratch").
        seeds: the paired seeds.
    """
    values = per_seed(results, lambda result: result["evaluation"]["top1"], seeds)
    scratch_values = per_seed(scratch, lambda result: result["evaluation"]["top1"], seeds)["scratch"]
    record = evidence_record("top1", seeds, values, {"scratch": sum(scratch_values) / len(scratch_values)})
    record["scratch_top1"] = scratch_values
    return record
