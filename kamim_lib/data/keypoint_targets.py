"""Keypoint weights as a data-pipeline target: computed per sample in DataLoader workers (OpenCV) or per batch
on the training device (torch FAST). Both paths call :func:`kamim_lib.weighting.keypoint_weights` on the augmented
uint8 crop (SPEC 1.2: never on the original image) and give the same numbers for FAST."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import check_choice, check_positive, check_uint8_images
from ..keypoints.choices import DETECTORS, DEVICE_DETECTORS, MAP_MODES



@dataclass(frozen=True)
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
    # Imported here: data is importable (and its workers start) without pulling the detectors in until needed.
    from ..weighting import keypoint_weights

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
