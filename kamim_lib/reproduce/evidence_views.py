"""The evidence the training notebooks put beside their headline numbers (``summary.json["evidence"]``).

Each function takes the notebook's seeded results (:func:`kamim_lib.reproduce.experiments.run_variants` over
:func:`~kamim_lib.reproduce.experiments.seeded_variants`), loads the checkpoints they name and measures them with
:mod:`kamim_lib.evidence`; nothing is trained here except scikit-learn classifiers on cached features.
"""
from __future__ import annotations

from typing import Sequence

import torch

from kamim_lib.evidence.records import evidence_record
from kamim_lib.reproduce.experiments import per_seed

PRETRAIN_BASELINES = {"image_blind": "image-blind (per-pixel median of augmented training crops)",
                      "random_init": "random-init model"}
PROBE_BASELINES = {"raw_pixels": "raw pixels (4x4 average-pooled), same classifier",
                   "random_init": "random-init encoder, same block and classifier"}
FINETUNE_BASELINES = {"scratch": "trained from scratch, same budget (mean over the seeds)"}


def checkpoint_of(result: dict) -> str:
    """The pretrained checkpoint a result stands for: its own pretraining's, or the one it was given."""
    from kamim_lib.reproduce.artifacts import from_repo

    path = (result.get("pretrain") or {}).get("checkpoint") or (result.get("evaluation") or {}).get("pretrained")
    return str(from_repo(path))


def _probe_encoder(checkpoint: str, config) -> torch.nn.Module:
    """The frozen encoder exactly as the engine's probe loads it (``load_backbone``: strict, the checkpoint's own
    final-norm setting)."""
    import dataclasses

    from kamim_lib.engine.pretrained import load_backbone

    encoder, _ = load_backbone(dataclasses.replace(config, pretrained=checkpoint))
    return encoder.eval()


def _load(checkpoint: str, config):
    from kamim_lib.models import load_pretrained

    return load_pretrained(checkpoint, config.model, strict=True, img_size=config.img_size,
                           final_norm=config.final_norm).eval()


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
    from kamim_lib.evidence import reconstruction, weighting
    from kamim_lib.stats import mean_and_ci

    held_out = reconstruction.held_out_set(config)
    density = _held_out_density(held_out, config)
    masked = weighting.masked_patches(held_out.masks, held_out.patch_size, config.weight_patch_size)
    per_checkpoint = {}
    for result in results:
        model = _load(checkpoint_of(result), config)
        prediction = reconstruction.model_predictions(model, held_out.images, held_out.masks)
        errors = reconstruction.masked_pixel_errors(prediction, held_out.images, held_out.masks, held_out.patch_size)
        patch_errors = weighting.patch_errors(prediction, held_out.images, config.weight_patch_size)
        per_checkpoint[(result["label"], result["fields"]["seed"])] = {
            "val_masked_l1": float(errors.mean()),
            "deciles": weighting.error_by_density_decile(patch_errors, density, masked)}
    values = per_seed(results, lambda result: per_checkpoint[(result["label"], result["fields"]["seed"])]
                      ["val_masked_l1"], seeds)
    baselines = {"image_blind": reconstruction.image_blind_masked_l1(config, held_out, passes=image_blind_passes),
                 "random_init": reconstruction.random_init_masked_l1(config, held_out, seeds)}
    record = evidence_record("val_masked_l1", seeds, values, baselines)
    record["ratio_to_image_blind"] = {label: sum(per) / len(per) / baselines["image_blind"]
                                      for label, per in values.items()}
    record["held_out"] = {"split": "val", "images": int(len(held_out.images)), "mask_ratio": config.mask_ratio,
                          "mask_patch_size": config.mask_patch_size, "token_grid": int(held_out.masks.shape[-1])}
    deciles = {}
    for label in values:
        runs = [per_checkpoint[(label, seed)]["deciles"] for seed in seeds]
        rows = []
        for index, first in enumerate(runs[0]):
            mean, low, high = mean_and_ci([run[index]["error_mean"] for run in runs])
            rows.append({**{key: first[key] for key in ("decile", "density_low", "density_high", "density_mean",
                                                        "patches")},
                         "error_mean": mean, "error_low": low, "error_high": high})
        deciles[label] = rows
    from kamim_lib.weighting import density_to_weights

    weights = density_to_weights(density, config.temperature)
    record["weighting"] = {"weight_patch_size": config.weight_patch_size, "temperature": config.temperature,
                           "detector": config.detector,
                           "top10_weight_share": weighting.top_weight_share(weights, 0.1),
                           "max_weight_mean": float(weights.flatten(1).max(dim=1).values.mean()),
                           "error_by_density_decile": deciles}
    return record


def _held_out_density(held_out, config) -> torch.Tensor:
    """Keypoint density Ω (N, H/w_ps, W/w_ps) of the held-out images, with the configuration's detector and mode."""
    from kamim_lib.analysis.pixels import unnormalize
    from kamim_lib.analysis.summaries import to_uint8_pixels
    from kamim_lib.keypoints import keypoint_map
    from kamim_lib.weighting import keypoint_density

    pixels = to_uint8_pixels(unnormalize(held_out.images))
    return keypoint_density(keypoint_map(pixels, detector=config.detector, mode=config.keypoint_mode).float(),
                            config.weight_patch_size)


def _probe_top1_per_seed(results: Sequence[dict], seeds: Sequence[int], config):
    """The converged probe's top-1 of every seeded checkpoint: ``(train, val, {label: [top-1 per seed]})``, the
    labelled splits returned for the baselines."""
    from kamim_lib.evidence import probing

    train = probing.labelled_split(config, "train")
    val = probing.labelled_split(config, "val")
    top1 = {}
    for result in results:
        top1[(result["label"], result["fields"]["seed"])] = probing.encoder_top1(
            _probe_encoder(checkpoint_of(result), config), train, val, layer=config.probe_layer,
            pooling=config.pooling)
    return train, val, per_seed(results, lambda result: top1[(result["label"], result["fields"]["seed"])], seeds)


def linprobe_evidence(results: Sequence[dict], seeds: Sequence[int], config) -> dict:
    """Converged logistic-regression top-1 on the frozen block-``probe_layer`` features of every seeded checkpoint,
    beside the raw-pixel and random-init-encoder baselines, and the engine's SGD-head top-1 per seed.

    Args:
        results: seeded linprobe results (each names its pretrained checkpoint).
        seeds: the paired seeds.
        config: the linear-probe configuration (data, probe_layer, pooling).
    """
    from kamim_lib.evidence import probing

    train, val, values = _probe_top1_per_seed(results, seeds, config)
    baselines = {"raw_pixels": probing.raw_pixel_top1(train, val),
                 "random_init": probing.random_init_top1(config, train, val, seeds)}
    record = evidence_record("top1", seeds, values, baselines)
    record["classifier"] = ("scikit-learn LogisticRegression (L-BFGS, C=1, standardised features) on cached "
                            f"block-{config.probe_layer} {config.pooling}-pooled features")
    record["sgd_head_top1"] = per_seed(results, lambda result: result["evaluation"]["top1"], seeds)
    record["split_sizes"] = {"train": int(len(train.labels)), "val": int(len(val.labels))}
    return record


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


def variants_probe_evidence(results: Sequence[dict], seeds: Sequence[int], config, *,
                            reference: str = "simmim") -> dict:
    """The ablations' evidence: converged logistic-regression top-1 of every variant on every seed, and each
    variant's paired difference to ``reference`` (with its 95 % interval when there are at least 2 seeds).

    Args:
        results: seeded results of the variants (any labels; one of them ``reference`` when a difference is wanted).
        seeds: the paired seeds.
        config: a linear-probe configuration (data, probe_layer, pooling) — the probe of every variant.
        reference: the label every variant is compared with.

    Returns:
        ``{"seeds", "classifier", "top1": {label: [per seed]}, "paired_difference": {label: {"a", "b", "mean",
        "ci95"}} }`` (``ci95`` None with a single seed; no entry when ``reference`` is absent).
    """
    from kamim_lib.stats import paired_difference_ci

    _, _, values = _probe_top1_per_seed(results, seeds, config)
    differences = {}
    if reference in values:
        for label, per in values.items():
            if label == reference:
                continue
            pairs = [a - b for a, b in zip(per, values[reference])]
            mean = sum(pairs) / len(pairs)
            ci = list(paired_difference_ci(per, values[reference])[1:]) if len(seeds) >= 2 else None
            differences[label] = {"a": label, "b": reference, "mean": mean, "ci95": ci}
    return {"seeds": [int(seed) for seed in seeds],
            "classifier": (f"scikit-learn LogisticRegression on cached block-{config.probe_layer} "
                           f"{config.pooling}-pooled features"),
            "top1": values, "paired_difference": differences}


def ablation_table(evidence: dict, *, title: str) -> str:
    """Markdown: each variant's mean top-1 over seeds and its paired difference to the reference (95 % CI)."""
    from kamim_lib.reporting import markdown_table
    from kamim_lib.reporting.tables import NOT_AVAILABLE

    rows = []
    for label, per in evidence["top1"].items():
        difference = evidence["paired_difference"].get(label)
        if difference is None:
            cells = ["reference" if evidence["paired_difference"] else "-", "-"]
        else:
            ci = difference["ci95"]
            cells = [difference["mean"], "single seed: no interval" if ci is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"]
        rows.append([label, str(len(per)), sum(per) / len(per), *cells, NOT_AVAILABLE])
    reference = next(iter(evidence["paired_difference"].values()), {}).get("b", "reference")
    return (f"### {title}\n\n" + markdown_table(
        ["variant", "seeds", "top-1 % (mean)", f"paired difference to {reference}", "95 % CI", "paper"], rows)
        + f"\nClassifier: {evidence['classifier']}.\n")
