"""Histograms of oriented gradients as a masked-prediction target (MaskFeat; SemanticMIM's MaskFeat variant).

Computed on the fly, on the device, with no weights (PEERS §4.3): per colour channel, Sobel gradients (reflect
padding); each pixel votes its gradient magnitude, scaled by a Gaussian window tiled over the image, into one of
``bins`` unsigned orientation bins over [0, π); votes are summed over ``cell_size`` x ``cell_size`` cells and
each cell's histogram is L2-normalised. A patch of side p holds (p / cell_size)² cells, so its target has
C · bins · (p / cell_size)² values: 3 · 9 · 4 = 108 for ViT/16 with 8-pixel cells (MaskFeat's default).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kamim_lib._validation import check_divisible

HOG_BINS = 9
HOG_CELL_SIZE = 8
HOG_WINDOW = 16

_SOBEL_X = ((1.0, 0.0, -1.0), (2.0, 0.0, -2.0), (1.0, 0.0, -1.0))


def hog_target_dim(patch_size: int, *, channels: int = 3, bins: int = HOG_BINS, cell_size: int = HOG_CELL_SIZE) -> int:
    """Values per patch: channels · bins · (patch_size / cell_size)²."""
    check_divisible("patch_size", patch_size, "hog cell_size", cell_size)
    return channels * bins * (patch_size // cell_size) ** 2


def gaussian_window(size: int, device=None) -> torch.Tensor:
    """(size, size) separable Gaussian with σ = size / 2, peak 1 at the centre."""
    position = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    profile = torch.exp(-position ** 2 / (2 * (size / 2) ** 2))
    return profile[:, None] * profile[None, :]


def hog_cells(images: torch.Tensor, *, bins: int = HOG_BINS, cell_size: int = HOG_CELL_SIZE,
              window: int = HOG_WINDOW) -> torch.Tensor:
    """Per-cell, per-channel orientation histograms.

    Args:
        images: float (B, C, H, W) (SemanticMIM/MaskFeat use the ImageNet-normalised input); H, W divisible by
            ``cell_size`` and ``window``.
        bins: unsigned orientation bins over [0, π).
        cell_size: pooling cell side in pixels.
        window: side of the Gaussian window tiled over the image (σ = window / 2).

    Returns:
        float (B, C, bins, H / cell_size, W / cell_size), each histogram L2-normalised (zero where flat).
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}.")
    batch, channels, height, width = images.shape
    for side, name in ((height, "height"), (width, "width")):
        check_divisible(f"image {name}", side, "hog cell_size", cell_size)
        check_divisible(f"image {name}", side, "hog window", window)
    images = images.float()
    sobel_x = torch.tensor(_SOBEL_X, dtype=images.dtype, device=images.device)
    kernels = torch.stack([sobel_x, sobel_x.T]).unsqueeze(1).repeat(channels, 1, 1, 1)  # (2C, 1, 3, 3)
    padded = F.pad(images, (1, 1, 1, 1), mode="reflect")
    gradients = F.conv2d(padded, kernels, groups=channels).view(batch, channels, 2, height, width)
    grad_x, grad_y = gradients[:, :, 0], gradients[:, :, 1]
    magnitude = torch.hypot(grad_x, grad_y)
    magnitude = magnitude * gaussian_window(window, images.device).repeat(height // window, width // window)
    # atan2 in (−π, π]; θ and θ + π share a bin (unsigned orientation), hence the modulo.
    orientation = torch.atan2(grad_y, grad_x)
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
        images: float (B, C, H, W).
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
