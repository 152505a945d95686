"""Reconstruction quality of a masked image model on un-normalised pixels (SPEC §3: PSNR and SSIM)."""
from __future__ import annotations

from typing import Sequence

import torch

from kamim_lib.analysis.pixels import IMAGENET_MEAN, IMAGENET_STD, unnormalize
from kamim_lib.analysis.psnr import psnr
from kamim_lib.analysis.ssim import ssim_masked_and_full

METRIC_NAMES = ("psnr_masked", "psnr_full", "ssim_masked", "ssim_full")


def reconstruction_metrics(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, normalized: bool = True,
                           mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                           data_range: float = 1.0, max_psnr_db: float | None = None) -> dict[str, torch.Tensor]:
    """PSNR and SSIM of each image, over the masked region and over the full image.

    The decoder predicts every pixel but only masked pixels are trained, so the "masked" numbers measure the
    reconstruction task and the "full" numbers the whole output as displayed (visible pixels included, not
    pasted back from the input).

    Args:
        pred: decoder output (B, 3, H, W).
        target: the input image (B, 3, H, W).
        mask: token mask (B, g, g) (or pixel mask), 1 = masked.
        normalized: True when pred/target are ImageNet-normalised (model space): both are un-normalised with
            ``mean``/``std`` and clamped to [0, 1] first. False when they already are pixels in [0, data_range].
        mean, std: normalisation statistics.
        data_range: pixel value range used by PSNR and SSIM.
        max_psnr_db: cap for PSNR (None keeps +inf for identical images).

    Returns:
        dict with float (B,) tensors ``psnr_masked``, ``psnr_full`` (dB), ``ssim_masked``, ``ssim_full``.
    """
    if normalized:
        pred, target = unnormalize(pred, mean, std), unnormalize(target, mean, std)
    ssim_masked, ssim_full = ssim_masked_and_full(pred, target, mask, data_range)
    return {
        "psnr_masked": psnr(pred, target, mask, data_range, max_psnr_db),
        "psnr_full": psnr(pred, target, None, data_range, max_psnr_db),
        "ssim_masked": ssim_masked,
        "ssim_full": ssim_full,
    }
