"""The SimMIM mask token: replace the patch embeddings of masked positions by one learned vector."""
from __future__ import annotations

import torch


def flatten_token_mask(mask: torch.Tensor, batch_size: int, grid: int) -> torch.Tensor:
    """Check a token mask and flatten it to (B, N) in row-major (raster) token order.

    Args:
        mask: (B, g, g) or (B, g·g) with 1 (or True) = masked; any integer, bool or float dtype.
        batch_size: B of the image batch.
        grid: g, tokens per side of the encoder's input grid.

    Returns:
        The mask viewed as (B, g·g), dtype unchanged. Only shapes are checked (no device sync).
    """
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"mask must be a torch.Tensor (B, {grid}, {grid}) with 1 = masked, got {type(mask).__name__}.")
    if mask.shape == (batch_size, grid, grid):
        return mask.reshape(batch_size, grid * grid)
    if mask.shape == (batch_size, grid * grid):
        return mask
    raise ValueError(f"mask must have shape (B, g, g) = ({batch_size}, {grid}, {grid}) or (B, g*g) = "
                     f"({batch_size}, {grid * grid}) for this model's token grid, got {tuple(mask.shape)}; "
                     "draw it with the model's patch size as model_patch_size.")


def replace_with_mask_token(tokens: torch.Tensor, mask: torch.Tensor, mask_token: torch.Tensor) -> torch.Tensor:
    """Blend in the mask token where ``mask`` is 1: tokens·(1 − m) + mask_token·m (HF's formulation).

    A masked position keeps no trace of its pixels (x·0 = 0 for finite x), and the mask token receives the
    gradient of every masked position.

    Args:
        tokens: patch embeddings (B, N, D), any float dtype.
        mask: (B, N), 1 = masked.
        mask_token: (1, 1, D).

    Returns:
        (B, N, D), the promoted dtype of ``tokens`` and ``mask_token``.
    """
    weight = mask.unsqueeze(-1).to(tokens.dtype)
    return tokens * (1.0 - weight) + mask_token * weight
