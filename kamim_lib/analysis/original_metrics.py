"""The original's reconstruction scores: torchmetrics' ``PeakSignalNoiseRatio()`` and
``StructuralSimilarityIndexMeasure()`` with their defaults, on the full image in ImageNet-normalised pixels.

kamim's own convention (``reconstruction.reconstruction_metrics``) scores each image on un-normalised pixels in
[0, 1] (data range 1) and averages the per-image scores. The original's differs in three ways, re-implemented here
(torchmetrics is not a dependency):

* pixels stay ImageNet-normalised (about −2.1 … 2.6), and the **data range is inferred from the batch**:
  PSNR takes max − min of the *targets* over every image; SSIM takes the larger of the predictions' and the
  targets' max − min over every image;
* PSNR is computed from **one MSE over all images** (sum of squared errors / number of values), not per image;
* SSIM uses the 11-tap Gaussian window (σ = 1.5), drops a 5-pixel border, averages each image's map and then the
  images (the same map as ``ssim.ssim`` once the data range is the same).

On the same reconstructions the two conventions differ by about 0.1 dB in PSNR; both are shown beside the paper.
"""
from __future__ import annotations

import torch

from kamim_lib.analysis._images import image_pair
from kamim_lib.analysis.ssim import ssim

METRIC_CONVENTIONS = ("per_image", "original")


def _value_range(images: torch.Tensor) -> torch.Tensor:
    return images.max() - images.min()


def original_psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """torchmetrics ``PeakSignalNoiseRatio()`` over a whole batch: 10·log10(R² / MSE), MSE over every value of
    every image, R = max(target) − min(target) over the batch.

    Args:
        pred, target: float (B, C, H, W), any value range (the original: ImageNet-normalised).

    Returns:
        PSNR in dB (a float; +inf when pred equals target).
    """
    pred, target = image_pair(pred, target, 1.0)
    data_range = _value_range(target)
    mse = ((pred - target) ** 2).mean()
    return float(10 * torch.log10(data_range ** 2 / mse))


def original_ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """torchmetrics ``StructuralSimilarityIndexMeasure()`` over a whole batch: Gaussian window 11 / σ 1.5,
    k1 0.01, k2 0.03, data range max(range(pred), range(target)) over the batch, 5-pixel border dropped, mean
    over each image's map, then over images.

    Args:
        pred, target: float (B, C, H, W), H, W ≥ 11.

    Returns:
        SSIM (a float).
    """
    pred, target = image_pair(pred, target, 1.0)
    data_range = float(torch.maximum(_value_range(pred), _value_range(target)))
    if data_range <= 0:
        raise ValueError("pred and target are both constant over the batch: torchmetrics' inferred data range is 0 "
                         "and SSIM is undefined.")
    return float(ssim(pred, target, None, data_range).mean())


def original_reconstruction_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """The original's full-image PSNR and SSIM of a batch of reconstructions in normalised pixels.

    Args:
        pred: decoder outputs (B, 3, H, W), ImageNet-normalised (the model's space).
        target: the normalised inputs (B, 3, H, W).

    Returns:
        {"psnr_full": dB, "ssim_full": float}: one number each for the whole batch.
    """
    return {"psnr_full": original_psnr(pred, target), "ssim_full": original_ssim(pred, target)}
