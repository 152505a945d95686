"""Masked (optionally keypoint-weighted) reconstruction losses (SPEC §1.4; PEERS §5.1).

    L = Σ M·ω·ℓ(x̂, t) / (3·Σ M + eps)        normalize="mask"   (the original; loss scale grows with ω)
    L = Σ M·ω·ℓ(x̂, t) / (3·Σ M·ω + eps)      normalize="weight" (a weighted mean)

M is the token mask upsampled by the encoder patch size p to pixels; ω the pixel weights (1 for SimMIM);
the 3 counts the colour channels, so the "mask" form is a mean over masked pixel values. ℓ is |x̂ − t| (L1, SimMIM
and KAMIM on raw normalised pixels t = x) or (x̂ − t)² (L2, MAE's ``norm_pix_loss`` target t = per-patch
standardised pixels, :func:`norm_pix_target`).
"""
from __future__ import annotations

import torch

from kamim_lib._validation import check_choice

NORMALIZATIONS = ("mask", "weight")
CRITERIA = ("l1", "l2")


def _upsample_grid(grid: torch.Tensor, height: int, width: int, what: str) -> torch.Tensor:
    """(B, h, w) → (B, 1, H, W) by nearest repetition; H, W must be integer multiples of h, w."""
    h, w = grid.shape[-2:]
    if height % h or width % w or height // h != width // w:
        raise ValueError(f"{what} grid {h}x{w} does not tile the {height}x{width} image evenly.")
    scale = height // h
    return grid.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1).unsqueeze(1)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, patch_size: int,
              weight: torch.Tensor | None = None, normalize: str = "mask", eps: float = 1e-8) -> torch.Tensor:
    """Mean absolute reconstruction error over masked pixels, optionally weighted (SimMIM, KAMIM).

    Same arguments as :func:`masked_reconstruction_loss` with ``criterion="l1"``.
    """
    return masked_reconstruction_loss(pred, target, mask, patch_size, weight=weight, normalize=normalize,
                                      criterion="l1", eps=eps)


def norm_pix_target(images: torch.Tensor, patch_size: int, eps: float = 1e-6) -> torch.Tensor:
    """MAE's normalised-pixel target: each p×p patch standardised over its p²·3 values.

    ``t = (x − mean_patch) / sqrt(var_patch + eps)`` with torch's unbiased variance (as MAE).

    Args:
        images: float (B, C, H, W); H and W divisible by ``patch_size``.
        patch_size: the patch side p (the encoder's patch size).

    Returns:
        float (B, C, H, W), each patch with mean 0 and unbiased variance var/(var+eps) ≈ 1.
    """
    batch, channels, height, width = images.shape
    if height % patch_size or width % patch_size:
        raise ValueError(f"images of {height}x{width} do not tile into {patch_size}-pixel patches.")
    gh, gw = height // patch_size, width // patch_size
    patches = images.reshape(batch, channels, gh, patch_size, gw, patch_size).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(batch, gh, gw, -1)
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    normalised = (patches - mean) / torch.sqrt(var + eps)
    normalised = normalised.reshape(batch, gh, gw, channels, patch_size, patch_size).permute(0, 3, 1, 4, 2, 5)
    return normalised.reshape(batch, channels, height, width)


def masked_reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, patch_size: int,
                               weight: torch.Tensor | None = None, normalize: str = "mask", criterion: str = "l1",
                               eps: float = 1e-8) -> torch.Tensor:
    """Mean reconstruction error over masked pixels, optionally weighted.

    Args:
        pred: decoder output x̂, float (B, 3, H, W).
        target: the target t, float (B, 3, H, W): the normalised input x, or :func:`norm_pix_target` of it.
        mask: token mask (B, g, g), 1 = masked, g = H / patch_size.
        patch_size: the encoder patch size p (16 ViT, 4 Swin) used to upsample ``mask`` to pixels.
        weight: pixel weights ω, (B, 1, H, W) or (B, H, W), or patch weights (B, h, w) with H % h == 0
            (upsampled nearest); None for SimMIM (ω ≡ 1).
        normalize: "mask" divides by 3·ΣM (the original), "weight" by 3·ΣM·ω.
        criterion: "l1" (|x̂ − t|) or "l2" ((x̂ − t)²).
        eps: added to the denominator.

    Returns:
        Scalar loss tensor.
    """
    check_choice("normalize", normalize, NORMALIZATIONS)
    check_choice("criterion", criterion, CRITERIA)
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
        weighted_mask = pixel_mask * pixel_weight.to(pred.dtype)
    difference = pred - target
    # M·ω is formed once on (B, 1, H, W) and broadcast over the channels: one full-size product instead of two.
    # M is 0 or 1, so (ℓ·M)·ω and ℓ·(M·ω) are the same floats: the loss and its gradient are bit-identical.
    error = (difference.abs() if criterion == "l1" else difference.square()) * weighted_mask
    denominator = (pixel_mask if normalize == "mask" else weighted_mask).sum() * channels + eps
    return error.sum() / denominator
