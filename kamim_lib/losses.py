"""Masked (optionally keypoint-weighted) L1 reconstruction loss (SPEC §1.4).

    L = Σ M·ω·|x − x̂| / (3·Σ M + eps)        normalize="mask"   (the original; loss scale grows with ω)
    L = Σ M·ω·|x − x̂| / (3·Σ M·ω + eps)      normalize="weight" (a weighted mean)

M is the token mask upsampled by the encoder patch size p to pixels; ω the pixel weights (1 for SimMIM);
the 3 counts the colour channels, so the "mask" form is a mean over masked pixel values.
"""
from __future__ import annotations

import torch

from kamim_lib._validation import check_choice

NORMALIZATIONS = ("mask", "weight")


def _upsample_grid(grid: torch.Tensor, height: int, width: int, what: str) -> torch.Tensor:
    """(B, h, w) → (B, 1, H, W) by nearest repetition; H, W must be integer multiples of h, w."""
    h, w = grid.shape[-2:]
    if height % h or width % w or height // h != width // w:
        raise ValueError(f"{what} grid {h}x{w} does not tile the {height}x{width} image evenly.")
    scale = height // h
    return grid.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1).unsqueeze(1)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, patch_size: int,
              weight: torch.Tensor | None = None, normalize: str = "mask", eps: float = 1e-8) -> torch.Tensor:
    """Mean absolute reconstruction error over masked pixels, optionally weighted.

    Args:
        pred: decoder output x̂, float (B, 3, H, W).
        target: the normalised input x, float (B, 3, H, W).
        mask: token mask (B, g, g), 1 = masked, g = H / patch_size.
        patch_size: the encoder patch size p (16 ViT, 4 Swin) used to upsample ``mask`` to pixels.
        weight: pixel weights ω, (B, 1, H, W) or (B, H, W), or patch weights (B, h, w) with H % h == 0
            (upsampled nearest); None for SimMIM (ω ≡ 1).
        normalize: "mask" divides by 3·ΣM (the original), "weight" by 3·ΣM·ω.
        eps: added to the denominator.

    Returns:
        Scalar loss tensor.
    """
    check_choice("normalize", normalize, NORMALIZATIONS)
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"pred and target must both be (B, C, H, W) of equal shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}.")
    batch, channels, height, width = pred.shape
    if mask.ndim != 3 or mask.shape[0] != batch or mask.shape[1] * patch_size != height \
            or mask.shape[2] * patch_size != width:
        raise ValueError(f"mask must be a token mask (B, H/patch_size, W/patch_size) = ({batch}, "
                         f"{height // patch_size}, {width // patch_size}) for patch_size={patch_size}, "
                         f"got {tuple(mask.shape)}.")
    pixel_mask = _upsample_grid(mask.to(pred.dtype), height, width, "mask")
    error = (pred - target).abs() * pixel_mask
    if weight is None:
        weighted_mask = pixel_mask
    else:
        if weight.ndim == 4:
            if weight.shape[1] != 1 or weight.shape[-2:] != pred.shape[-2:]:
                raise ValueError(f"weight must be (B, 1, H, W) pixel weights, got {tuple(weight.shape)}.")
            pixel_weight = weight
        elif weight.ndim == 3:
            pixel_weight = _upsample_grid(weight, height, width, "weight")
        else:
            raise ValueError(f"weight must be (B, 1, H, W), (B, H, W) or (B, h, w), got {tuple(weight.shape)}.")
        pixel_weight = pixel_weight.to(pred.dtype)
        error = error * pixel_weight
        weighted_mask = pixel_mask * pixel_weight
    denominator = (pixel_mask if normalize == "mask" else weighted_mask).sum() * channels + eps
    return error.sum() / denominator
