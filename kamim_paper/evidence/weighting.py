"""What KAMIM's weighting does: where its weight mass sits, how reconstruction error depends on keypoint density,
and the control that keeps the weights' distribution but breaks their link to the image (``weight_shuffle=true``,
:func:`kamim_lib.methods.kamim.shuffle_weights_within_image`).
"""
from __future__ import annotations

import torch


def top_weight_share(weights: torch.Tensor, top_fraction: float = 0.1) -> float:
    """Share of the total weight held by the heaviest ``top_fraction`` of patches, averaged over images.

    Uniform weights give ``top_fraction``; all mass on one patch gives 1.

    Args:
        weights: (B, h, w) patch weights (positive).
        top_fraction: in (0, 1]; the patch count is rounded up (at least one patch).
    """
    if not 0.0 < top_fraction <= 1.0:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction!r}.")
    flat = weights.flatten(1).float()
    count = max(1, int(-(-flat.shape[1] * top_fraction // 1)))
    top = flat.topk(count, dim=1).values.sum(dim=1)
    return float((top / flat.sum(dim=1)).mean())


def patch_errors(prediction: torch.Tensor, images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Unweighted mean absolute error per ``patch_size`` patch: (N, 3, H, W) pair -> (N, H/ps, W/ps)."""
    error = (prediction - images).abs().mean(dim=1, keepdim=True)
    return torch.nn.functional.avg_pool2d(error, patch_size).squeeze(1)


def decile_edges(values: torch.Tensor, bins: int = 10) -> torch.Tensor:
    """``bins − 1`` interior quantile edges of ``values`` (flattened)."""
    levels = torch.linspace(0, 1, bins + 1, dtype=torch.float64)[1:-1]
    return torch.quantile(values.flatten().double(), levels)


def error_by_density_decile(errors: torch.Tensor, density: torch.Tensor, masked: torch.Tensor,
                            bins: int = 10) -> list[dict]:
    """Mean reconstruction error of masked patches in each keypoint-density decile.

    Ties are common (many patches have density 0), so deciles are assigned by rank: the masked patches sorted
    by density (stable, ties in index order) are cut into ``bins`` groups of equal count.

    Args:
        errors: (N, h, w) per-patch errors (:func:`patch_errors`).
        density: (N, h, w) keypoint density Ω of the same patches.
        masked: (N, h, w) bool, the patches whose pixels were all masked.
        bins: number of groups.

    Returns:
        One dict per group, lowest density first: ``{"decile", "density_low", "density_high", "density_mean",
        "error_mean", "patches"}``.
    """
    if errors.shape != density.shape or errors.shape != masked.shape:
        raise ValueError(f"errors, density and masked must have one shape, got {tuple(errors.shape)}, "
                         f"{tuple(density.shape)} and {tuple(masked.shape)}.")
    selected = masked.bool()
    values, dens = errors[selected].double(), density[selected].double()
    if len(values) < bins:
        raise ValueError(f"only {len(values)} masked patches for {bins} groups.")
    order = torch.sort(dens, stable=True).indices
    groups = torch.tensor_split(order, bins)
    return [{"decile": index + 1, "density_low": float(dens[group].min()), "density_high": float(dens[group].max()),
             "density_mean": float(dens[group].mean()), "error_mean": float(values[group].mean()),
             "patches": int(len(group))} for index, group in enumerate(groups)]


def masked_patches(masks: torch.Tensor, model_patch_size: int, patch_size: int) -> torch.Tensor:
    """Which ``patch_size`` patches are entirely masked: (N, g, g) token masks -> bool (N, H/ps, H/ps)."""
    pixels = masks.float().repeat_interleave(model_patch_size, 1).repeat_interleave(model_patch_size, 2)
    return torch.nn.functional.avg_pool2d(pixels.unsqueeze(1), patch_size).squeeze(1) >= 1.0 - 1e-6
