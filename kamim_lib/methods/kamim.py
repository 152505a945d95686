"""KAMIM: SimMIM whose loss is weighted per patch by the density of keypoints in the crop (SPEC §1.2-1.4)."""
from __future__ import annotations

import dataclasses

import torch

from kamim_lib._random import seeded_uniform
from kamim_lib.data.keypoint_targets import KeypointSpec, device_keypoint_weights, worker_keypoint_weights
from kamim_lib.keypoints.choices import DETECTORS, DEVICE_DETECTORS
from kamim_lib.keypoints.options import KeypointMapOptions
from kamim_lib.losses import NORMALIZATIONS
from kamim_lib.plugins import param
from kamim_lib.weighting import max_weight_temperature_problem

from .registry import register_method
from .simmim import PixelReconstruction, PixelTargetOptions

# Where the weights are computed: in DataLoader workers with OpenCV (any detector), per batch on the training
# device with the exact torch FAST (FAST only; identical weights), or auto: the device on CUDA with FAST (it costs a
# few per cent of the step and frees the CPU cores), the workers elsewhere.
KEYPOINTS_ON = ("auto", "workers", "device")


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeypointWeightOptions(KeypointMapOptions):
    """The keypoint-weight keys (defaults: the original's examples, SPEC §1.3); shared by every method that
    weights its loss like KAMIM (e.g. ``semanticmim_weighting=keypoints``)."""

    detector: str = param("fast", "keypoint detector for kamim weights", choices=DETECTORS)
    weight_patch_size: int = param(8, "w_ps: keypoint-density patch side in pixels (8, 16 or 32 in the paper); "
                                      "must divide img_size", minimum=1)
    temperature: float = param(0.25, "T > 0 in W = exp((density - min density) / T)", minimum=0,
                               exclusive_minimum=True)
    keypoints_on: str = param("auto", "where kamim weights are computed: workers (OpenCV, any detector), device "
                                      "(batched torch FAST next to the model, identical weights) or auto (device on "
                                      "cuda with fast, else workers)", choices=KEYPOINTS_ON, identity=False)
    loss_normalize: str = param("mask", "masked-loss denominator: mask (3*sum M, the original) or weight "
                                        "(3*sum M*w, a weighted mean)", choices=NORMALIZATIONS)
    weight_shuffle: bool = param(False, "control: permute each image's patch weights at random before the loss "
                                        "(same weight distribution, no spatial link to the keypoints)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class KamimOptions(PixelTargetOptions, KeypointWeightOptions):
    """KAMIM's configuration keys: the pixel target and the keypoint weights."""


def shuffle_weights_within_image(weights: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Permute each image's patch weights independently (a control with no spatial link to the keypoints).

    Args:
        weights: (B, h, w) patch weights.
        keys: (B, h·w) random sort keys (e.g. uniform): each image's weights are reordered by its keys.

    Returns:
        (B, h, w): for each image, the same multiset of values at uniformly permuted positions.
    """
    if weights.ndim != 3 or keys.shape != (weights.shape[0], weights[0].numel()):
        raise ValueError(f"weights must be (B, h, w) and keys (B, h*w), got {tuple(weights.shape)} and "
                         f"{tuple(keys.shape)}.")
    batch, height, width = weights.shape
    order = keys.argsort(dim=1)
    return weights.reshape(batch, -1).gather(1, order).reshape(batch, height, width)


@register_method
class KAMIM(PixelReconstruction):
    """``method=kamim``: the masked loss weighted by W = exp((Ω − min Ω)/T) of each w_ps patch."""

    name = "kamim"
    summary = ("KAMIM (Madhava Krishna & Subramanyam, 2024): SimMIM with the loss weighted per patch by the "
               "density of FAST/SIFT/ORB keypoints on the crop")
    Options = KamimOptions

    def __init__(self, options: KamimOptions, *, img_size: int, patch_size: int):
        super().__init__(options, img_size=img_size, patch_size=patch_size)
        self.spec = KeypointSpec(detector=options.detector, mode=options.keypoint_mode,
                                 patch_size=options.weight_patch_size, temperature=options.temperature)
        # Until prepare() knows the device: "auto" means the workers.
        self.weights_on_device = options.keypoints_on == "device"
        self.device_weights = device_keypoint_weights

    @classmethod
    def option_problems(cls, config) -> list[str]:
        problems = []
        if config.img_size % config.weight_patch_size:
            problems.append(f"weight_patch_size={config.weight_patch_size} must divide img_size={config.img_size}")
        if overflow := max_weight_temperature_problem(config.temperature):
            problems.append(overflow)
        if config.keypoints_on == "device" and config.detector not in DEVICE_DETECTORS:
            problems.append(f"keypoints_on='device' supports detector in {DEVICE_DETECTORS} only, got "
                            f"detector={config.detector!r}; use keypoints_on='workers' for SIFT/ORB")
        return problems

    def crop_detector(self) -> str:
        return self.options.detector

    def prepare(self, config, runtime, *, crops_on_device: bool) -> None:
        from kamim_lib.engine.compile import compile_function
        from kamim_lib.runtime import resolve_keypoints_on

        device_type = runtime.device.type
        self.weights_on_device = crops_on_device or resolve_keypoints_on(
            self.options.keypoints_on, device_type, self.options.detector) == "device"
        self.device_weights = compile_function(device_keypoint_weights,
                                               enabled=config.compile_keypoints and self.weights_on_device,
                                               device_type=device_type)

    def loader_targets(self, crop: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.weights_on_device:
            return {}
        return {"weights": worker_keypoint_weights(crop, self.spec)}

    def loss_weights(self, batch: dict, *, seed: int) -> torch.Tensor:
        if self.weights_on_device:
            weights = self.device_weights(batch["image"], self.spec)
        else:
            weights = batch["weights"]
        if self.options.weight_shuffle:
            keys = seeded_uniform((weights.shape[0], weights[0].numel()), seed, weights.device)
            weights = shuffle_weights_within_image(weights, keys)
        return weights

    def normalization(self) -> str:
        return self.options.loss_normalize
