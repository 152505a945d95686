"""Peak signal-to-noise ratio per image, over the whole image or only its masked pixels.

    PSNR = 10 · log10(data_range² / MSE),   MSE = Σ m·(pred − target)² / (C · Σ m)

on un-normalised pixels (see ``pixels.unnormalize``). Identical images (MSE = 0) give +inf, as
``skimage.metrics.peak_signal_noise_ratio`` does; pass ``max_db`` to cap them instead (e.g. for averaging or
JSON). An image whose mask selects no pixel gives NaN.
"""
from __future__ import annotations

import torch

from kamim_lib.analysis._images import image_pair, optional_pixel_mask


def mean_squared_error(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image MSE over all channels of the selected pixels.

    Args:
        pred, target: float (B, C, H, W).
        mask: None for the whole image, or a token mask (B, g, g) / pixel mask (B, [1,] H, W), 1 = counted.

    Returns:
        float (B,); NaN where the mask is empty.
    """
    pred, target = image_pair(pred, target, 1.0)
    weights = optional_pixel_mask(mask, pred)
    squared = ((pred - target) ** 2 * weights).sum(dim=(1, 2, 3))
    count = weights.sum(dim=(1, 2, 3)) * pred.shape[1]
    return squared / count  # 0/0 = NaN for an empty mask, on purpose: there is nothing to score


def psnr(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, data_range: float = 1.0,
         max_db: float | None = None) -> torch.Tensor:
    """PSNR of each image in dB.

    Args:
        pred, target: float (B, C, H, W), un-normalised pixels in [0, data_range].
        mask: None for the full image, or a token mask (B, g, g) / pixel mask (B, [1,] H, W): 1 = scored
            (pass the MIM mask to score only the reconstructed region).
        data_range: peak value (1.0 for [0, 1] pixels, 255 for uint8 scale).
        max_db: None keeps +inf for identical images; a number caps every value at it.

    Returns:
        float (B,).
    """
    error = mean_squared_error(*image_pair(pred, target, data_range), mask)
    values = 10 * torch.log10(data_range ** 2 / error)  # error 0 → +inf
    return values if max_db is None else values.clamp(max=max_db)
