"""KAMIM: SimMIM whose loss is weighted per patch by the density of keypoints in the crop (SPEC §1.2-1.4).

Everything KAMIM-specific lives here: its options, where its weights are computed (DataLoader workers with OpenCV,
or per batch on the device with the exact torch FAST; both on the augmented uint8 crop, SPEC 1.2: never on the
original image) and its loss. The engine and the data pipeline only see the :class:`~kamim_lib.methods.base.Method`
hooks."""
from __future__ import annotations

import dataclasses

import torch

from kamim_lib._random import seeded_uniform
from kamim_lib._validation import check_choice, check_positive, check_uint8_images
from kamim_lib.keypoints.choices import DETECTORS, DEVICE_DETECTORS, MAP_MODES
from kamim_lib.keypoints.options import KeypointMapOptions
from kamim_lib.losses import NORMALIZATIONS
from kamim_lib.plugins import param
from kamim_lib.runtime.compile import compile_function
from kamim_lib.weighting import MAX_WEIGHT_EXPONENT, keypoint_weights, max_weight_temperature_problem

from kamim_lib.methods.registry import register_method
from kamim_lib.methods.simmim import PixelReconstruction, PixelTargetOptions

# Where the weights are computed: in DataLoader workers with OpenCV (any detector), per batch on the training
# device with the exact torch FAST (FAST only; identical weights), or auto: the device on CUDA with FAST (it costs a
# few per cent of the step and frees the CPU cores), the workers elsewhere.
KEYPOINTS_ON = ("auto", "workers", "device")


@dataclasses.dataclass(frozen=True)
class KeypointSpec:
    """What keypoint weights to compute (SPEC 1.2-1.3).

    Attributes:
        detector: ``"fast"`` (default), ``"sift"`` or ``"orb"``.
        mode: ``"faithful"`` (the original's ring drawing and BGR quirk) or ``"points"``.
        patch_size: weight patch side w_ps in pixels (8, 16 or 32 in the paper); must divide the crop size.
        temperature: T > 0 of ``W = exp((density - min density) / T)``.
    """

    detector: str = "fast"
    mode: str = "faithful"
    patch_size: int = 8
    temperature: float = 0.25

    def __post_init__(self):
        check_choice("detector", self.detector, DETECTORS)
        check_choice("mode", self.mode, MAP_MODES)
        if not isinstance(self.patch_size, int):
            raise ValueError(f"patch_size must be an int, got {self.patch_size!r}.")
        check_positive("patch_size", self.patch_size)
        check_positive("temperature", self.temperature)


def _keypoint_weights(images: torch.Tensor, spec: KeypointSpec, backend: str) -> torch.Tensor:

    return keypoint_weights(images, detector=spec.detector, patch_size=spec.patch_size,
                            temperature=spec.temperature, mode=spec.mode, backend=backend).to(torch.float32)


def worker_keypoint_weights(image: torch.Tensor, spec: KeypointSpec) -> torch.Tensor:
    """Weights of one augmented crop, on the CPU with OpenCV (the DataLoader-worker path).

    Args:
        image: (3, H, W) uint8 RGB crop; H and W divisible by ``spec.patch_size``.
        spec: what to compute.

    Returns:
        (H / patch_size, W / patch_size) float32 weights, min 1 per image.
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise ValueError(f"image must be one (3, H, W) uint8 crop, got {getattr(image, 'shape', type(image))}.")
    check_uint8_images(image[None], "image")
    return _keypoint_weights(image[None], spec, backend="opencv")[0]


def device_keypoint_weights(images: torch.Tensor, spec: KeypointSpec) -> torch.Tensor:
    """Weights of a batch of augmented crops, on the batch's device with the torch FAST backend.

    For ``keypoints_on="device"``: the workers ship only the uint8 crops and the weights are made next to the model.
    Equal to stacking :func:`worker_keypoint_weights` over the batch.

    Args:
        images: (B, 3, H, W) uint8 RGB crops on any device.
        spec: what to compute; ``spec.detector`` must be ``"fast"``.

    Returns:
        (B, H / patch_size, W / patch_size) float32 weights on ``images.device``.
    """
    check_uint8_images(images)
    if spec.detector not in DEVICE_DETECTORS:
        raise ValueError(f"detector={spec.detector!r} has no device backend (only {DEVICE_DETECTORS}); compute "
                         "SIFT/ORB weights in the DataLoader workers instead (keypoints_on='workers').")
    return _keypoint_weights(images, spec, backend="torch")


@dataclasses.dataclass(frozen=True)
class WorkerKeypointWeights:
    """A pretraining transform's ``targets`` callable: crop (3, H, W) uint8 -> ``{"weights": (H / w_ps, W / w_ps)
    float32}`` with OpenCV in the DataLoader worker (a picklable object, not a lambda, so spawned workers get it)."""

    spec: KeypointSpec

    def __call__(self, crop: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"weights": worker_keypoint_weights(crop, self.spec)}


def resolve_keypoints_on(value: str, device_type: str, detector: str) -> str:
    """Where kamim weights are computed: ``"workers"`` or ``"device"`` as given; ``"auto"`` -> ``"device"`` on CUDA
    when the detector has a device backend (FAST), else ``"workers"`` (on a CPU the workers run in parallel with
    the step; on a GPU the batched torch FAST costs a few per cent of the step and frees the CPU cores)."""
    if value != "auto":
        return value
    return "device" if device_type == "cuda" and detector in DEVICE_DETECTORS else "workers"


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

    @classmethod
    def non_finite_hint(cls, config) -> str | None:
        # Weights reach exp(1/T): far below the float32 overflow T, a small T still makes the weighted loss huge.
        if 1.0 / config.temperature > MAX_WEIGHT_EXPONENT / 2:
            return (f"KAMIM weights reach exp(1/T) = e^{1 / config.temperature:.0f} at temperature="
                    f"{config.temperature}, enough to overflow the weighted loss: raise temperature (the paper uses "
                    "0.25).")
        return None

    def crop_detector(self) -> str:
        return self.options.detector

    def prepare(self, config, runtime, *, crops_on_device: bool) -> None:
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
