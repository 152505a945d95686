"""Histograms of oriented gradients as a masked-prediction target (MaskFeat; SemanticMIM's MaskFeat variant).

Computed on the fly, on the device, with no weights (PEERS §4.3), as SemanticMIM's target generator computes it
(mmpretrain 1.2.0 ``HOGGenerator``, the one yyk-wew/SemanticMIM's MaskFeat configs name): per colour channel,
Sobel responses gx (kernel [[1, 0, −1], [2, 0, −2], [1, 0, −1]], cross-correlated) and gy (its transpose) on the
reflect-padded image; magnitude √(gx² + gy²), scaled by a Gaussian window (σ = window // 2, normalised to sum 1)
tiled over the image; phase **atan2(gx, gy)** — the original's argument order, so bin 0 holds horizontal edges and
the bins run the other way round from the textbook atan2(gy, gx) — voted into bin floor(phase / π · bins) mod
bins; votes summed over ``cell_size`` x ``cell_size`` cells; each cell's histogram L2-normalised (eps 1e-12).

The original feeds the ImageNet-normalised float image. HOG does not change under a per-channel affine map
(x − m) / s with s > 0 — every row of the Sobel kernels sums to zero, so m cancels in gx and gy; a common scale
1/s leaves the phase unchanged and cancels in each cell's L2 normalisation — so here it is computed from the 0..255
pixels (``hog_cells`` takes uint8 batches), where the Sobel sums are exact integers in float32. On the normalised
float32 image a gradient that is zero in exact arithmetic comes out as ±1e-8 rounding noise, and since phase 0
is the edge between the first and the last bin, that noise would decide where every pixel with gx = 0 votes.

A patch of side p holds (p / cell_size)² cells, so its target has C · bins · (p / cell_size)² values: 3 · 9 · 4
= 108 for ViT/16 with 8-pixel cells (MaskFeat's default). The original hard-codes 14 patches per side (224 px);
here the patch grid follows the image (same order of values within a patch: channel, bin, cell row, cell column).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kamim_lib._validation import check_divisible

HOG_BINS = 9
HOG_CELL_SIZE = 8
HOG_WINDOW = 16



def hog_target_dim(patch_size: int, *, channels: int = 3, bins: int = HOG_BINS, cell_size: int = HOG_CELL_SIZE) -> int:
    """Values per patch: channels · bins · (patch_size / cell_size)²."""
    check_divisible("patch_size", patch_size, "hog cell_size", cell_size)
    return channels * bins * (patch_size // cell_size) ** 2


def gaussian_window(size: int, device=None) -> torch.Tensor:
    """(size, size) separable Gaussian with σ = size // 2 (integer, as the original), normalised to sum 1.

    The scale cancels in each cell's L2 normalisation except next to the eps of flat cells, where it is kept
    so that those cells match the original too.
    """
    position = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    profile = torch.exp(-0.5 * (position / (size // 2)) ** 2)
    kernel = profile[:, None] * profile[None, :]
    return kernel / kernel.sum()


def sobel_gradients(padded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The original's Sobel responses.

    gx is the cross-correlation with [[1, 0, −1], [2, 0, −2], [1, 0, −1]] (left minus right), gy with its
    transpose (top minus bottom). Written as differences and a [1, 2, 1] sum rather than a convolution: on
    integer pixels every step is exact in float32 whatever the device (a convolution may run in TF32 on a GPU or
    bf16 passes on a TPU).

    Args:
        padded: float (B, C, H + 2, W + 2), the image padded by one pixel.

    Returns:
        ``(gx, gy)``, each float (B, C, H, W).
    """
    across = padded[..., :, :-2] - padded[..., :, 2:]  # (B, C, H + 2, W)
    down = padded[..., :-2, :] - padded[..., 2:, :]  # (B, C, H, W + 2)
    grad_x = across[..., :-2, :] + 2 * across[..., 1:-1, :] + across[..., 2:, :]
    grad_y = down[..., :, :-2] + 2 * down[..., :, 1:-1] + down[..., :, 2:]
    return grad_x, grad_y


def hog_cells(images: torch.Tensor, *, bins: int = HOG_BINS, cell_size: int = HOG_CELL_SIZE,
              window: int = HOG_WINDOW) -> torch.Tensor:
    """Per-cell, per-channel orientation histograms.

    Args:
        images: uint8 (B, C, H, W) pixels (exact; what SemanticMIM's loss passes), or float (B, C, H, W) — the
            original's ImageNet-normalised input gives the same cells up to the rounding described in the module
            docstring; H, W divisible by ``cell_size`` and ``window``.
        bins: unsigned orientation bins over [0, π).
        cell_size: pooling cell side in pixels.
        window: side of the Gaussian window tiled over the image (σ = window // 2).

    Returns:
        float (B, C, bins, H / cell_size, W / cell_size), each histogram L2-normalised (zero where flat). Bin k
        holds phases atan2(gx, gy) in [kπ/bins, (k+1)π/bins) modulo π: bin 0 horizontal edges (gx = 0), bin
        bins // 2 vertical edges (gy = 0).
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}.")
    batch, channels, height, width = images.shape
    for side, name in ((height, "height"), (width, "width")):
        check_divisible(f"image {name}", side, "hog cell_size", cell_size)
        check_divisible(f"image {name}", side, "hog window", window)
    images = images.float()
    grad_x, grad_y = sobel_gradients(F.pad(images, (1, 1, 1, 1), mode="reflect"))
    magnitude = torch.hypot(grad_x, grad_y)
    magnitude = magnitude * gaussian_window(window, images.device).repeat(height // window, width // window)
    # The original's argument order (gx first); atan2 in [−π, π], and θ and θ + π share a bin (unsigned
    # orientation), hence the modulo.
    orientation = torch.atan2(grad_x, grad_y)
    bin_index = torch.floor(orientation / math.pi * bins).long().remainder(bins)
    votes = torch.zeros(batch, channels, bins, height, width, dtype=images.dtype, device=images.device)
    votes.scatter_add_(2, bin_index.unsqueeze(2), magnitude.unsqueeze(2))
    cells = F.avg_pool2d(votes.flatten(1, 2), cell_size) * cell_size ** 2  # sum over each cell
    cells = cells.view(batch, channels, bins, height // cell_size, width // cell_size)
    return F.normalize(cells, p=2, dim=2)


def hog_patch_targets(images: torch.Tensor, patch_size: int, *, bins: int = HOG_BINS,
                      cell_size: int = HOG_CELL_SIZE, window: int = HOG_WINDOW) -> torch.Tensor:
    """HOG target of every patch, in raster order.

    Args:
        images: uint8 or float (B, C, H, W), as ``hog_cells``.
        patch_size: the encoder's patch side p (a multiple of ``cell_size``).

    Returns:
        float (B, N, C · bins · (p / cell_size)²), N = (H / p)(W / p); within a patch: channel, bin, cell row,
        cell column.
    """
    cells_per_patch = hog_target_dim(patch_size, channels=1, bins=1, cell_size=cell_size) ** 0.5
    k = int(round(cells_per_patch))
    cells = hog_cells(images, bins=bins, cell_size=cell_size, window=window)
    batch, channels, _, rows, cols = cells.shape
    grid_h, grid_w = rows // k, cols // k
    patches = cells.view(batch, channels, bins, grid_h, k, grid_w, k).permute(0, 3, 5, 1, 2, 4, 6)
    return patches.reshape(batch, grid_h * grid_w, channels * bins * k * k)
