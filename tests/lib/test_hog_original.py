"""SemanticMIM's HOG target against the original's formula (mmpretrain 1.2.0 ``HOGGenerator``), written out here
independently in float64 numpy and evaluated on real photos.

The formula, per colour channel of the ImageNet-normalised image x = (u / 255 − mean) / std (H x W):
- reflect-pad by 1; gx[i, j] = Σ_uv Kx[u, v]·x[i+u, j+v] with Kx = [[1, 0, −1], [2, 0, −2], [1, 0, −1]], gy the
  same with Kx transposed (a cross-correlation, as conv2d);
- magnitude √(gx² + gy²) times a 16 x 16 Gaussian (σ = 8, centred on 7.5, normalised to sum 1) tiled over the image;
- phase atan2(gx, gy) (gx FIRST), bin floor(phase / π · 9) mod 9;
- per 8 x 8 cell, the sum of the weighted magnitudes per bin; each cell's 9 values divided by max(‖·‖₂, 1e-12);
- per 16 x 16 patch, the 2 x 2 cells flattened as (channel, bin, cell row, cell column).

The gradients are evaluated exactly: a gradient that is 0 (flat along x) must give phase exactly 0 or π, whereas
x in floating point leaves ±1e-16 noise whose sign moves the pixel between the first and the last bin. Exact
values come from the 8-bit pixels: each kernel row sums to 0, so the mean cancels and Sobel(x) = Sobel(u) /
(255 · std), with Sobel(u) an integer (the test checks this identity against the float computation).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kamim_lib.data.normalization import IMAGENET_MEAN, IMAGENET_STD
from kamim_lib.hog import hog_cells, hog_patch_targets
from kamim_lib.sample_photos import PHOTO_NAMES, sample_photo_batch

BINS, CELL, WINDOW, PATCH = 9, 8, 16, 16


def sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, H, W) -> (gx, gy), each (C, H, W): Kx and Kx.T cross-correlated with the reflect-padded image."""
    channels, height, width = image.shape
    kernel_x = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    kernel_y = kernel_x.T
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    grad_x = np.zeros(image.shape)
    grad_y = np.zeros(image.shape)
    for u in range(3):
        for v in range(3):
            shifted = padded[:, u:u + height, v:v + width]
            grad_x += kernel_x[u, v] * shifted
            grad_y += kernel_y[u, v] * shifted
    return grad_x, grad_y


def normalised_gradients(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (3, H, W) -> the exact Sobel responses of the normalised image, Sobel(u) / (255 · std)."""
    scale = 255.0 * np.array(IMAGENET_STD)[:, None, None]
    grad_x, grad_y = sobel(pixels.astype(np.float64))
    return grad_x / scale, grad_y / scale


def reference_hog_cells(pixels: np.ndarray) -> np.ndarray:
    """uint8 (C, H, W) photo -> (C, BINS, H / CELL, W / CELL) by the formula in the module docstring."""
    channels, height, width = pixels.shape
    grad_x, grad_y = normalised_gradients(pixels)
    offsets = np.arange(WINDOW) - (WINDOW - 1) / 2
    profile = np.exp(-0.5 * (offsets / (WINDOW // 2)) ** 2)
    window = np.outer(profile, profile)
    window /= window.sum()
    weighted = np.sqrt(grad_x ** 2 + grad_y ** 2) * np.tile(window, (height // WINDOW, width // WINDOW))
    bins = np.mod(np.floor(np.arctan2(grad_x, grad_y) / math.pi * BINS).astype(np.int64), BINS)
    cells = np.zeros((channels, BINS, height // CELL, width // CELL))
    for channel in range(channels):
        for row in range(height):
            for col in range(width):
                cells[channel, bins[channel, row, col], row // CELL, col // CELL] += weighted[channel, row, col]
    norms = np.sqrt((cells ** 2).sum(axis=1, keepdims=True))
    return cells / np.maximum(norms, 1e-12)


def reference_patch_targets(cells: np.ndarray) -> np.ndarray:
    """(C, BINS, rows, cols) cells -> (N, C·BINS·k·k) per-patch targets in raster order, k = PATCH / CELL."""
    k = PATCH // CELL
    channels, bins, rows, cols = cells.shape
    targets = []
    for patch_row in range(rows // k):
        for patch_col in range(cols // k):
            values = [cells[c, b, patch_row * k + r, patch_col * k + s]
                      for c in range(channels) for b in range(bins) for r in range(k) for s in range(k)]
            targets.append(values)
    return np.array(targets)


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    """Four bundled photos at 192 px, uint8 (4, 3, 192, 192): what SemanticMIM's loss gets."""
    return sample_photo_batch(PHOTO_NAMES[:4], size=192)


def test_exact_gradients_are_those_of_the_normalised_image(photos):
    pixels = photos[0].numpy()
    mean, std = (np.array(values)[:, None, None] for values in (IMAGENET_MEAN, IMAGENET_STD))
    direct = sobel((pixels / 255.0 - mean) / std)
    for exact, computed in zip(normalised_gradients(pixels), direct):
        np.testing.assert_allclose(exact, computed, rtol=0, atol=1e-12)


def test_hog_cells_equal_the_original_formula_on_photos(photos):
    cells = hog_cells(photos)
    assert cells.shape == (4, 3, BINS, 24, 24)
    for index in range(photos.shape[0]):
        expected = reference_hog_cells(photos[index].numpy())
        assert np.count_nonzero(expected) > 0.5 * expected.size  # real texture: most bins get votes
        np.testing.assert_allclose(cells[index].numpy(), expected, rtol=0, atol=1e-4)


def test_hog_patch_targets_equal_the_original_layout(photos):
    targets = hog_patch_targets(photos[:2], PATCH)
    assert targets.shape == (2, 144, 108)
    for index in range(2):
        expected = reference_patch_targets(reference_hog_cells(photos[index].numpy()))
        np.testing.assert_allclose(targets[index].numpy(), expected, rtol=0, atol=1e-4)


def test_textbook_orientation_differs_on_photos(photos):
    """The textbook phase atan2(gy, gx) (kamim's before it followed the original) bins these photos differently."""
    # On the transposed image gx and gy swap places, so this is atan2(gy, gx) binning of the photo itself.
    textbook = reference_hog_cells(photos[0].numpy().transpose(0, 2, 1)).transpose(0, 1, 3, 2)
    assert np.abs(hog_cells(photos[:1])[0].numpy() - textbook).max() > 0.1
