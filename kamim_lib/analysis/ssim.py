"""Structural similarity (Wang et al. 2004) per image, matching ``skimage.metrics.structural_similarity`` with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=..., channel_axis=...``.

Local statistics use an 11-tap Gaussian window (σ = 1.5, truncated at 3.5σ as in skimage) with half-sample
symmetric padding (scipy's "reflect"), giving a full-size SSIM map. Like skimage, the image score is the mean of
the map over channels and pixels *excluding a 5-pixel border* (window radius), where the window would read
padding. The masked score is the mean of the same map over the masked pixels inside that border, so an all-ones
mask gives exactly the full-image score. An image whose mask selects no pixel inside the border gives NaN.
"""
from __future__ import annotations

import torch

from kamim_lib._validation import check_positive
from kamim_lib.analysis._images import image_pair, optional_pixel_mask

TRUNCATE = 3.5  # skimage's Gaussian truncation: radius int(3.5σ + 0.5) = 5 and an 11-tap window for σ = 1.5


def gaussian_window(sigma: float = 1.5, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, radius int(3.5σ + 0.5) (scipy.ndimage.gaussian_filter's kernel).

    Returns:
        float (2r + 1,), summing to 1.
    """
    check_positive("sigma", sigma)
    radius = int(TRUNCATE * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return taps / taps.sum()


def _reflected_sources(size: int, radius: int) -> torch.Tensor:
    """int64 (size + 2r,): the pixel each position of the padded line reads under scipy's "reflect" padding
    (d c b a | a b c d | d c b a: the edge pixel repeated); radius ≤ size."""
    positions = torch.arange(-radius, size + radius)
    return torch.where(positions < 0, -positions - 1,
                       torch.where(positions >= size, 2 * size - 1 - positions, positions))


def _filter_matrix(size: int, taps: torch.Tensor) -> torch.Tensor:
    """(size, size) matrix K with ``line @ K`` = the line padded symmetrically and filtered with ``taps``.

    Column j holds the taps at the pixels that output j reads; near an edge a tap whose position falls in the
    padding is added to the pixel it mirrors, so the padding never has to be built (a copy of every map).
    """
    radius = taps.shape[0] // 2
    sources = _reflected_sources(size, radius).to(taps.device)
    columns = torch.arange(size, device=taps.device)
    matrix = torch.zeros(size, size, dtype=taps.dtype, device=taps.device)
    for offset, tap in enumerate(taps):
        matrix.index_put_((sources[columns + offset], columns), tap.expand(size), accumulate=True)
    return matrix


def _gaussian_blur(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of (N, H, W) maps with symmetric padding, same size out.

    Each pass is a product with a (mostly banded) matrix that has the padding folded in: a BLAS matmul, where a
    float64 conv2d on the CPU has no fast kernel (measured for 480 maps of 192 x 192 on 2 cores: 0.56 s against
    2.07 s, equal within 4e-16; folding the padding in saves building the padded copy: benchmarks/ssim_blur.py).
    """
    height, width = x.shape[-2:]
    rows = _filter_matrix(height, taps)
    columns = rows if width == height else _filter_matrix(width, taps)
    return rows.T @ x @ columns


def ssim_map(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0, sigma: float = 1.5,
             k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Per-pixel, per-channel SSIM map (skimage's ``full=True`` map).

    Args:
        pred, target: float (B, C, H, W), un-normalised pixels; H, W ≥ 2r + 1 (11 for σ = 1.5).
        data_range: peak-to-peak value range (1.0 for [0, 1] pixels).
        sigma: Gaussian window σ.
        k1, k2: stabilising constants, C1 = (k1·data_range)², C2 = (k2·data_range)².

    Returns:
        float (B, C, H, W).
    """
    pred, target = image_pair(pred, target, data_range)
    taps = gaussian_window(sigma, pred.dtype, pred.device)
    batch, channels, height, width = pred.shape
    if min(height, width) < taps.shape[0]:
        raise ValueError(f"images of {height}x{width} are smaller than the {taps.shape[0]}-pixel SSIM window; "
                         "use larger images or a smaller sigma.")
    x = pred.reshape(batch * channels, height, width)
    y = target.reshape(batch * channels, height, width)
    # One blur call for the five local moments.
    moments = _gaussian_blur(torch.cat((x, y, x * x, y * y, x * y)), taps).chunk(5)
    mean_x, mean_y, mean_xx, mean_yy, mean_xy = moments
    # Population (co)variances, as Wang et al. and use_sample_covariance=False.
    var_x, var_y = mean_xx - mean_x ** 2, mean_yy - mean_y ** 2
    cov_xy = mean_xy - mean_x * mean_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    numerator = (2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)
    denominator = (mean_x ** 2 + mean_y ** 2 + c1) * (var_x + var_y + c2)
    return (numerator / denominator).reshape(batch, channels, height, width)


def _mean_over(similarity: torch.Tensor, weights: torch.Tensor, radius: int) -> torch.Tensor:
    """(B,) weighted mean of a (B, C, H, W) SSIM map over channels and pixels, a radius-wide border excluded."""
    inner = (..., slice(radius, similarity.shape[-2] - radius), slice(radius, similarity.shape[-1] - radius))
    similarity, weights = similarity[inner], weights[inner]
    total = (similarity * weights).sum(dim=(1, 2, 3))
    return total / (weights.sum(dim=(1, 2, 3)) * similarity.shape[1])


def ssim_masked_and_full(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, data_range: float = 1.0,
                         sigma: float = 1.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ssim(pred, target, mask), ssim(pred, target))`` from one SSIM map (the map is the whole cost).

    Returns:
        two float (B,) tensors: the masked and the full-image score.
    """
    pred, target = image_pair(pred, target, data_range)
    similarity = ssim_map(pred, target, data_range, sigma)
    radius = int(TRUNCATE * sigma + 0.5)
    return (_mean_over(similarity, optional_pixel_mask(mask, pred), radius),
            _mean_over(similarity, optional_pixel_mask(None, pred), radius))


def ssim(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, data_range: float = 1.0,
         sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of each image, over the full image or over masked pixels only.

    Args:
        pred, target: float (B, C, H, W), un-normalised pixels in [0, data_range].
        mask: None for the full image, or a token mask (B, g, g) / pixel mask (B, [1,] H, W): 1 = scored.
        data_range: peak-to-peak value range (1.0 for [0, 1] pixels).
        sigma: Gaussian window σ (1.5 as Wang et al.).

    Returns:
        float (B,): the mean of ``ssim_map`` over channels and the selected pixels, a radius-wide border excluded.
    """
    pred, target = image_pair(pred, target, data_range)
    similarity = ssim_map(pred, target, data_range, sigma)
    return _mean_over(similarity, optional_pixel_mask(mask, pred), int(TRUNCATE * sigma + 0.5))
