"""SimMIM's mask geometry and random cell masks (SPEC §1.1).

The image is divided into c x c mask cells of ``mask_patch_size`` pixels (c = input_size / mask_patch_size);
exactly K = ceil(c² · mask_ratio) cells are masked, drawn uniformly without replacement, and each cell is repeated
``mask_patch_size / model_patch_size`` times per axis to give the model's token grid g x g
(g = input_size / model_patch_size): 12 x 12 for ViT/16, 48 x 48 for Swin/4 at 192 px.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kamim_lib._validation import check_divisible, check_positive


def _check_mask_geometry(input_size: int, mask_patch_size: int, model_patch_size: int, mask_ratio: float) -> None:
    for name, value in (("input_size", input_size), ("mask_patch_size", mask_patch_size),
                        ("model_patch_size", model_patch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    check_divisible("input_size", input_size, "mask_patch_size", mask_patch_size)
    check_divisible("mask_patch_size", mask_patch_size, "model_patch_size", model_patch_size)
    check_positive("mask_ratio", mask_ratio)
    if not mask_ratio < 1:
        raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio!r}.")


MASK_COUNT_ROUNDINGS = ("ceil", "floor")


def masked_count(units: int, mask_ratio: float, rounding: str = "ceil") -> int:
    """How many of ``units`` cells (or tokens) a ratio masks: ceil(n · r) as SimMIM, or floor(n · r) as AttMask.

    The one place a masked count is rounded (SimMIM's cells, AttMask's cells or tokens), so that every strategy and
    every configuration check counts alike: ``masked_count(36, 0.6)`` = 22, ``masked_count(36, 0.6, "floor")`` = 21.

    Raises:
        ValueError: ``rounding`` is neither "ceil" nor "floor".
    """
    if rounding not in MASK_COUNT_ROUNDINGS:
        raise ValueError(f"rounding={rounding!r} is not supported; choose one of {', '.join(MASK_COUNT_ROUNDINGS)}.")
    # round() first guards against float noise such as 36 * 0.6 = 21.599999999999998 or 100 * 0.07 = 7.000000000000001.
    product = round(units * mask_ratio, 9)
    return int(math.ceil(product) if rounding == "ceil" else math.floor(product))


def num_masked_cells(input_size: int, mask_patch_size: int, mask_ratio: float) -> int:
    """K = ceil(c² · r), the number of masked cells per image (22 of 36 at 192/32/0.6)."""
    return masked_count((input_size // mask_patch_size) ** 2, mask_ratio)


@dataclass(frozen=True)
class RandomCellMask:
    """Callable that draws one SimMIM mask.

    Args:
        input_size: image side H in pixels.
        mask_patch_size: mask cell side s in pixels (H % s == 0).
        model_patch_size: encoder patch side p in pixels (s % p == 0).
        mask_ratio: fraction r of cells to mask, in (0, 1).

    Calling it returns an int64 tensor (g, g), 1 = masked, with exactly ``num_masked`` masked cells
    (each cell covering (s/p)² tokens). It uses numpy's global RNG, as data-loader workers are seeded per worker.
    """

    input_size: int = 192
    mask_patch_size: int = 32
    model_patch_size: int = 16
    mask_ratio: float = 0.6

    def __post_init__(self) -> None:
        _check_mask_geometry(self.input_size, self.mask_patch_size, self.model_patch_size, self.mask_ratio)

    @property
    def cells_per_side(self) -> int:
        return self.input_size // self.mask_patch_size

    @property
    def token_grid(self) -> int:
        return self.input_size // self.model_patch_size

    @property
    def scale(self) -> int:
        """Tokens per mask cell along each axis (s / p)."""
        return self.mask_patch_size // self.model_patch_size

    @property
    def num_masked(self) -> int:
        return num_masked_cells(self.input_size, self.mask_patch_size, self.mask_ratio)

    def __call__(self, rng: np.random.Generator | None = None) -> torch.Tensor:
        """Draw one mask: int64 (g, g), 1 = masked. ``rng`` defaults to numpy's global generator."""
        c = self.cells_per_side
        permutation = (rng.permutation(c * c) if rng is not None else np.random.permutation(c * c))
        cells = np.zeros(c * c, dtype=np.int64)
        cells[permutation[: self.num_masked]] = 1
        scale = self.mask_patch_size // self.model_patch_size
        grid = cells.reshape(c, c).repeat(scale, axis=0).repeat(scale, axis=1)
        return torch.from_numpy(grid)


def random_cell_masks(batch_size: int, *, input_size: int = 192, mask_patch_size: int = 32,
                      model_patch_size: int = 16, mask_ratio: float = 0.6, device: torch.device | str | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw a batch of SimMIM masks directly on ``device`` with static shapes (usable under XLA).

    Each image gets exactly K masked cells: the K smallest of c² uniform random keys (a uniform draw without
    replacement), found with ``topk`` so no shape depends on the data.

    Returns:
        int64 tensor (batch_size, g, g), 1 = masked.
    """
    _check_mask_geometry(input_size, mask_patch_size, model_patch_size, mask_ratio)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    c = input_size // mask_patch_size
    k = num_masked_cells(input_size, mask_patch_size, mask_ratio)
    device = torch.device(device) if device is not None else (generator.device if generator is not None else None)
    keys = torch.rand(batch_size, c * c, device=device, generator=generator)
    masked_idx = keys.topk(k, dim=1, largest=False).indices
    cells = torch.zeros(batch_size, c * c, dtype=torch.int64, device=keys.device)
    cells.scatter_(1, masked_idx, 1)
    return cells_to_tokens(cells.view(batch_size, c, c), mask_patch_size // model_patch_size)


def cells_to_tokens(cells: torch.Tensor, scale: int) -> torch.Tensor:
    """Repeat each mask cell ``scale`` times per axis: (B, c, c) -> (B, c·scale, c·scale), same dtype."""
    return cells.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)


def tokens_to_cells(tokens: torch.Tensor, scale: int) -> torch.Tensor:
    """Average a per-token map over each mask cell: (B, g, g) -> (B, g/scale, g/scale) float."""
    return torch.nn.functional.avg_pool2d(tokens.float().unsqueeze(1), scale).squeeze(1)


def seeded_random_cell_masks(geometry: RandomCellMask, batch_size: int, seed: int,
                             device: torch.device | str) -> torch.Tensor:
    """SimMIM's random masks (B, g, g) int64 for ``geometry``, drawn on the CPU from ``seed``, moved to ``device``.

    The same numbers on every device (see :mod:`kamim_lib._random`); for strategies that fall back to random masks.
    """
    generator = torch.Generator().manual_seed(int(seed) % (2**63))
    return random_cell_masks(batch_size, input_size=geometry.input_size, mask_patch_size=geometry.mask_patch_size,
                             model_patch_size=geometry.model_patch_size, mask_ratio=geometry.mask_ratio,
                             generator=generator).to(device)
