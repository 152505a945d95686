"""Argument checks shared by the image metrics."""
from __future__ import annotations

import torch

from kamim_lib._validation import check_positive
from kamim_lib.analysis.pixels import pixel_mask
from kamim_lib.analysis.tokens import floating


def image_pair(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two image batches of equal shape (B, C, H, W) and return them as float32/float64."""
    check_positive("data_range", data_range)
    for name, value in (("pred", pred), ("target", target)):
        if not isinstance(value, torch.Tensor) or value.ndim != 4:
            raise ValueError(f"{name} must be an image batch (B, C, H, W), got "
                             f"{tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}.")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}.")
    pred, target = floating(pred), floating(target)
    dtype = torch.promote_types(pred.dtype, target.dtype)
    return pred.to(dtype), target.to(dtype)


def optional_pixel_mask(mask: torch.Tensor | None, reference: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) 0/1 mask in ``reference``'s dtype: the given token/pixel mask, or all ones when None."""
    batch, _, height, width = reference.shape
    if mask is None:
        return reference.new_ones(batch, 1, height, width)
    covered = pixel_mask(mask, height, width).to(device=reference.device, dtype=reference.dtype)
    if covered.shape[0] != batch:
        raise ValueError(f"mask has {covered.shape[0]} images but pred/target have {batch}.")
    return covered
