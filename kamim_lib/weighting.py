"""Keypoint density → KAMIM patch weights (SPEC §1.3).

    Ω = avg_pool(F, w_ps)                     density per w_ps x w_ps patch, in [0, 1]
    W = exp((Ω − min Ω) / T)                  per image, so min W = 1 (= SimMIM) and max W ≤ e^{1/T}
    ω = W upsampled by w_ps (nearest)         pixel weights, broadcast over channels by the loss
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kamim_lib._validation import check_divisible, check_positive
from kamim_lib.keypoints import keypoint_map


def _check_patch_size(patch_size: int) -> None:
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size <= 0:
        raise ValueError(f"patch_size must be a positive int (w_ps, e.g. 8, 16 or 32), got {patch_size!r}.")


def keypoint_density(keypoint_map: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Fraction of keypoint pixels per ``patch_size`` x ``patch_size`` patch.

    Args:
        keypoint_map: float (B, 1, H, W) of 0/1 (or (B, H, W)).
        patch_size: w_ps; must divide H and W.

    Returns:
        float (B, H / w_ps, W / w_ps), values in [0, 1].
    """
    _check_patch_size(patch_size)
    if keypoint_map.ndim == 3:
        keypoint_map = keypoint_map.unsqueeze(1)
    if keypoint_map.ndim != 4 or keypoint_map.shape[1] != 1:
        raise ValueError(f"keypoint_map must have shape (B, 1, H, W), got {tuple(keypoint_map.shape)}.")
    height, width = keypoint_map.shape[-2:]
    check_divisible("image height", height, "patch_size", patch_size)
    check_divisible("image width", width, "patch_size", patch_size)
    return F.avg_pool2d(keypoint_map.float(), patch_size, stride=patch_size).squeeze(1)


# exp(x) overflows float32 (and bf16, which has the same exponent range) above log(float32 max) = 88.72...
MAX_WEIGHT_EXPONENT = math.log(torch.finfo(torch.float32).max)


def max_weight_temperature_problem(temperature: float) -> str | None:
    """Why ``temperature`` makes the largest KAMIM weight overflow, or None when it is fine.

    The density Ω lies in [0, 1], so the largest weight is exp(1 / T). Above 1 / T = 88.72 (T < 0.01127) it is
    inf in float32 and bf16, and the loss becomes NaN at the first image with a keypoint-free and a keypoint-full
    patch.
    """
    if temperature > 0 and 1.0 / temperature > MAX_WEIGHT_EXPONENT:
        return (f"temperature={temperature!r} is too small: the largest KAMIM weight exp(1/T) = e^{1 / temperature:.0f} "
                f"overflows float32/bf16 (needs T >= {1 / MAX_WEIGHT_EXPONENT:.4f}; the paper uses 0.25)")
    return None


def density_to_weights(density: torch.Tensor, temperature: float) -> torch.Tensor:
    """W = exp((Ω − min Ω) / T), the minimum taken per image over all patches (masked or not).

    Args:
        density: float (B, h, w).
        temperature: T > 0; smaller T weights keypoint-rich patches more strongly.

    Returns:
        float (B, h, w) with min 1 per image and max exp((max Ω − min Ω) / T).
    """
    check_positive("temperature", temperature)
    if density.ndim != 3:
        raise ValueError(f"density must have shape (B, h, w), got {tuple(density.shape)}.")
    per_image_min = density.amin(dim=(1, 2), keepdim=True)
    return torch.exp((density - per_image_min) / temperature)


def pixel_weights(weights: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Nearest upsampling of patch weights to pixels.

    Args:
        weights: float (B, h, w).
        patch_size: w_ps.

    Returns:
        float (B, 1, h·w_ps, w·w_ps).
    """
    _check_patch_size(patch_size)
    if weights.ndim != 3:
        raise ValueError(f"weights must have shape (B, h, w), got {tuple(weights.shape)}.")
    return weights.repeat_interleave(patch_size, dim=1).repeat_interleave(patch_size, dim=2).unsqueeze(1)


def keypoint_weights(images: torch.Tensor, detector: str = "fast", patch_size: int = 8, temperature: float = 0.25,
                     mode: str = "faithful", backend: str = "opencv", **detector_params) -> torch.Tensor:
    """KAMIM patch weights of a batch of images, detected on exactly these (already augmented) pixels.

    Args:
        images: uint8 (B, 3, H, W), RGB.
        detector: "fast", "sift" or "orb".
        patch_size: w_ps, the density patch (8, 16 or 32 in the paper); must divide H and W.
        temperature: T > 0.
        mode: keypoint map mode, "faithful" (the original, quirks included) or "points".
        backend: "opencv" (any detector, CPU) or "torch" (FAST only, on the images' device).
        **detector_params: detector settings (e.g. ``threshold`` for FAST), see ``kamim_lib.keypoints``.

    Returns:
        float (B, H / w_ps, W / w_ps) weights, min 1 per image.
    """
    # Imported here so weighting stays importable where OpenCV is absent and only densities are needed.

    _check_patch_size(patch_size)
    check_positive("temperature", temperature)
    if images.ndim == 4:
        check_divisible("image height", images.shape[-2], "patch_size", patch_size)
        check_divisible("image width", images.shape[-1], "patch_size", patch_size)
    kmap = keypoint_map(images, detector=detector, mode=mode, backend=backend, **detector_params)
    return density_to_weights(keypoint_density(kmap, patch_size), temperature)
