"""What the evidence notebooks (02, 03, 05, 06, 11) measure on each pretrained checkpoint, and the baselines beside
it — one implementation for all of them, each value cached on disk (:mod:`kamim_paper.evidence.cache`).

Two benches, built once per notebook from its configurations:

- :class:`ReconstructionBench` (a pretraining configuration): the held-out set (validation images, masks of the
  configuration's geometry), the keypoint density Ω of its images (the configuration's detector, mode and w_ps) and
  which w_ps patches are entirely masked. On it a checkpoint gets its unweighted held-out masked L1 and its
  masked-patch error per keypoint-density decile; the baselines are the image-blind predictor and a random-init model.
- :class:`ProbeBench` (a linear-probe configuration): the labelled train and val splits through the evaluation
  transform, the probed block and pooling. On it a checkpoint gets the top-1 of a converged logistic regression on its
  frozen features; the baselines are raw pixels and a random-init encoder.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import torch

from kamim_lib.analysis.pixels import unnormalize
from kamim_lib.data.fingerprint import index_digest
from kamim_lib.engine.pretrained import load_backbone
from kamim_lib.engine.tasks import build_split
from kamim_lib.keypoints import keypoint_map
from kamim_lib.models import load_pretrained
from kamim_lib.weighting import keypoint_density
from kamim_paper.evidence import probing, reconstruction, weighting
from kamim_paper.evidence.cache import MeasurementCache, config_cache, file_digest, tensor_digest
from kamim_paper.results.artifacts import from_repo
from kamim_paper.results.summaries import to_uint8_pixels

#: What a checkpoint is measured by (summary key -> words), which direction is better, and the digits shown.
METRICS = {"val_masked_l1": "held-out masked L1", "top1": "probe top-1 %"}
LOWER_IS_BETTER = {"val_masked_l1": True, "top1": False}
DIGITS = {"val_masked_l1": 4, "top1": 2}


def checkpoint_of(result: dict) -> str:
    """The pretrained checkpoint a result stands for: its own pretraining's, or the one it was given."""
    path = (result.get("pretrain") or {}).get("checkpoint") or (result.get("evaluation") or {}).get("pretrained")
    return str(from_repo(path))


def _model_settings(config) -> dict:
    """The settings that shape a model built from ``config`` (with the checkpoint, all a measurement's model needs)."""
    return {"model": config.model, "img_size": config.img_size, "final_norm": getattr(config, "final_norm", None),
            "relative_position_bias": bool(getattr(config, "relative_position_bias", False))}


def load_pretrained_model(checkpoint: str, config) -> torch.nn.Module:
    """The whole pretrained model (encoder and decoder), strictly loaded, in eval mode."""
    return load_pretrained(checkpoint, config.model, strict=True, img_size=config.img_size,
                           final_norm=config.final_norm).eval()


def probe_encoder(checkpoint: str, config) -> torch.nn.Module:
    """The frozen encoder exactly as the engine's probe loads it (``load_backbone``: strict, the checkpoint's own
    final-norm setting)."""
    encoder, _ = load_backbone(dataclasses.replace(config, pretrained=checkpoint))
    return encoder.eval()


@dataclass(frozen=True)
class ReconstructionBench:
    """The held-out set of a pretraining configuration and what its deciles are cut by.

    Attributes:
        config: the pretraining configuration (data, mask geometry, model, detector, w_ps, T).
        held_out: :class:`~kamim_paper.evidence.reconstruction.HeldOutSet` (N images, token masks).
        density: float (N, H/w_ps, W/w_ps) keypoint density Ω of the held-out images.
        masked: bool (N, H/w_ps, W/w_ps), the w_ps patches whose pixels are all masked.
        digest: content digest of all three tensors and w_ps (part of every cache key).
        cache: where the measurements are kept.
    """

    config: object
    held_out: object
    density: torch.Tensor
    masked: torch.Tensor
    digest: str
    cache: MeasurementCache


def reconstruction_bench(config, cache: MeasurementCache | None = None, *,
                         max_images: int | None = None) -> ReconstructionBench:
    """Build the bench of pretraining ``config`` (cache: :func:`~kamim_paper.evidence.cache.config_cache` by default).

    ``max_images``: at most this many held-out images (a seeded subset of the validation split); None = all of it.
    The sections pass their probe's ``max_eval_samples``, so a run whose evaluation is cut (the ``paper-dryrun``
    rehearsal: 16 images) is not measured by ViT-B forwards of the whole validation folder.
    """
    held_out = reconstruction.held_out_set(config, max_images=max_images)
    density = held_out_density(held_out, config)
    masked = weighting.masked_patches(held_out.masks, held_out.patch_size, config.weight_patch_size)
    digest = tensor_digest(held_out.images, held_out.masks, density, masked,
                           torch.tensor([held_out.patch_size, config.weight_patch_size]))
    return ReconstructionBench(config, held_out, density, masked, digest, cache or config_cache(config))


def held_out_density(held_out, config) -> torch.Tensor:
    """Keypoint density Ω (N, H/w_ps, W/w_ps) of the held-out images, with the configuration's detector and mode."""
    pixels = to_uint8_pixels(unnormalize(held_out.images))
    return keypoint_density(keypoint_map(pixels, detector=config.detector, mode=config.keypoint_mode).float(),
                            config.weight_patch_size)


def held_out_errors(checkpoint: str, bench: ReconstructionBench) -> dict:
    """``{"val_masked_l1": float, "deciles": [per-decile dict]}`` of one checkpoint on the bench (cached)."""
    def measure() -> dict:
        held_out, config = bench.held_out, bench.config
        prediction = reconstruction.model_predictions(load_pretrained_model(checkpoint, config), held_out.images,
                                                      held_out.masks)
        errors = reconstruction.masked_pixel_errors(prediction, held_out.images, held_out.masks, held_out.patch_size)
        patch_errors = weighting.patch_errors(prediction, held_out.images, config.weight_patch_size)
        return {"val_masked_l1": float(errors.mean()),
                "deciles": weighting.error_by_density_decile(patch_errors, bench.density, bench.masked)}

    key = {"checkpoint": file_digest(checkpoint), "bench": bench.digest, **_model_settings(bench.config)}
    return bench.cache.value("held_out_errors", key, measure)


def reconstruction_baselines(bench: ReconstructionBench, seeds: Sequence[int], *, image_blind_passes: int = 2
                             ) -> dict[str, float]:
    """``{"image_blind", "random_init"}`` held-out masked L1 of the bench (each cached)."""
    config = bench.config
    training = build_split(config, "train", None)  # cut to max_train_samples, as the median is
    blind_key = {"bench": bench.digest, "training_data": [index_digest(training)[0], len(training)], "passes": image_blind_passes,
                 "img_size": config.img_size, "crop_antialias": bool(getattr(config, "crop_antialias", False))}
    random_key = {"bench": bench.digest, "seeds": [int(seed) for seed in seeds], **_model_settings(config)}
    return {"image_blind": bench.cache.value(
                "image_blind_l1", blind_key,
                lambda: reconstruction.image_blind_masked_l1(config, bench.held_out, passes=image_blind_passes)),
            "random_init": bench.cache.value(
                "random_init_l1", random_key,
                lambda: reconstruction.random_init_masked_l1(config, bench.held_out, seeds))}


@dataclass(frozen=True)
class ProbeBench:
    """The labelled splits of a linear-probe configuration and the block they are probed at.

    Attributes:
        config: the linear-probe configuration (data, probe_layer, pooling, model).
        train, val: :class:`~kamim_paper.evidence.probing.LabelledImages`.
        digest: content digest of both splits, the block and the pooling (part of every cache key).
        cache: where the measurements are kept.
    """

    config: object
    train: object
    val: object
    digest: str
    cache: MeasurementCache


def probe_bench(config, cache: MeasurementCache | None = None) -> ProbeBench:
    """Build the bench of linear-probe ``config``."""
    train, val = probing.labelled_split(config, "train"), probing.labelled_split(config, "val")
    digest = tensor_digest(train.images, train.labels, val.images, val.labels)
    digest = f"{digest}:block{config.probe_layer}:{config.pooling}"
    return ProbeBench(config, train, val, digest, cache or config_cache(config))


def probe_top1(checkpoint: str, bench: ProbeBench) -> float:
    """Converged logistic-regression top-1 % on the frozen features of one checkpoint (cached)."""
    config = bench.config
    key = {"checkpoint": file_digest(checkpoint), "bench": bench.digest, **_model_settings(config)}
    return bench.cache.value("probe_top1", key, lambda: probing.encoder_top1(
        probe_encoder(checkpoint, config), bench.train, bench.val, layer=config.probe_layer, pooling=config.pooling))


def probe_baselines(bench: ProbeBench, seeds: Sequence[int]) -> dict[str, float]:
    """``{"raw_pixels", "random_init"}`` probe top-1 % on the bench (each cached)."""
    config = bench.config
    random_key = {"bench": bench.digest, "seeds": [int(seed) for seed in seeds], **_model_settings(config)}
    return {"raw_pixels": bench.cache.value("raw_pixel_top1", {"bench": bench.digest},
                                            lambda: probing.raw_pixel_top1(bench.train, bench.val)),
            "random_init": bench.cache.value("random_init_top1", random_key,
                                             lambda: probing.random_init_top1(config, bench.train, bench.val, seeds))}
