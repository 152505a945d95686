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


#: The bin of the masked patches without keypoints (density exactly 0); the quantile bins of the rest are 1, 2, ...
NO_KEYPOINTS_BIN = 0
#: The binning's version (2: tie-aware bins with a "no keypoints" bin; 1: rank deciles that split ties). The
#: measurement cache re-measures on its own when this module changes (it hashes the module's source).
DENSITY_BINS_VERSION = 2


def tie_respecting_cuts(sorted_values: torch.Tensor, bins: int) -> list[int]:
    """Where to cut ascending ``sorted_values`` into at most ``bins`` groups of near-equal count without ever
    putting two equal values in different groups.

    Each ideal cut (rank ``round(k n / bins)``, k = 1 … bins − 1) moves to the nearest position where the value
    changes (the lower one on a tie); cuts that land on the same position merge their groups, so heavy ties give
    fewer, larger groups instead of groups that differ only by the order of equal values.

    Returns:
        The interior cut positions, ascending (empty: one group).
    """
    count = len(sorted_values)
    if count == 0 or bins <= 1:
        return []
    changes = torch.nonzero(sorted_values[1:] > sorted_values[:-1]).flatten() + 1
    if len(changes) == 0:
        return []
    cuts = set()
    for k in range(1, bins):
        target = round(k * count / bins)
        distance = (changes - target).abs()
        cuts.add(int(changes[int(torch.nonzero(distance == distance.min()).flatten()[0])]))
    return sorted(cuts)


def density_bins(density: torch.Tensor, bins: int = 10) -> list[tuple[str, torch.Tensor]]:
    """Group patches by keypoint density: one bin of the patches without keypoints (density 0), then up to
    ``bins`` quantile bins of the others, never splitting equal densities across bins.

    Args:
        density: (M,) densities of the patches (any order).
        bins: quantile groups of the non-zero densities (10: deciles); ties can make fewer.

    Returns:
        ``(label, indices)`` per bin, lowest density first: ``("no keypoints", ...)`` (left out when every patch
        has keypoints), then ``("Q a–b %", ...)`` with the share of the patches with keypoints the bin spans.
    """
    density = density.flatten().double()
    zero = torch.nonzero(density == 0).flatten()
    positive = torch.nonzero(density != 0).flatten()
    groups: list[tuple[str, torch.Tensor]] = []
    if len(zero):
        groups.append(("no keypoints", zero))
    if len(positive):
        order = positive[torch.sort(density[positive], stable=True).indices]
        edges = [0, *tie_respecting_cuts(density[order], bins), len(order)]
        for low, high in zip(edges[:-1], edges[1:]):
            groups.append((f"Q {100 * low / len(order):.0f}–{100 * high / len(order):.0f} %", order[low:high]))
    return groups


def error_by_density_decile(errors: torch.Tensor, density: torch.Tensor, masked: torch.Tensor,
                            bins: int = 10) -> list[dict]:
    """Mean reconstruction error of masked patches per keypoint-density bin (:func:`density_bins`).

    The masked patches without keypoints form bin 0 ("no keypoints"); the others are cut into ``bins`` quantile
    groups (deciles by default) numbered 1, 2, …, where equal densities always share a bin, so a bin boundary never
    depends on the order of the patches. Heavy ties (many patches at the per-image maximum density 1) merge
    quantile groups: there may be fewer than ``bins``; the last bin is always the densest.

    Args:
        errors: (N, h, w) per-patch errors (:func:`patch_errors`).
        density: (N, h, w) keypoint density Ω of the same patches.
        masked: (N, h, w) bool, the patches whose pixels were all masked.
        bins: quantile groups of the masked patches with keypoints.

    Returns:
        One dict per bin, lowest density first: ``{"decile"`` (the bin number: 0 = no keypoints, then 1, 2, …),
        ``"label"``, ``"density_low"``, ``"density_high"``, ``"density_mean"``, ``"error_mean"``, ``"count"`` (masked
        patches in the bin) and ``"patches"`` (the same count, the key older records used)``}``.
    """
    if errors.shape != density.shape or errors.shape != masked.shape:
        raise ValueError(f"errors, density and masked must have one shape, got {tuple(errors.shape)}, "
                         f"{tuple(density.shape)} and {tuple(masked.shape)}.")
    selected = masked.bool()
    values, dens = errors[selected].double(), density[selected].double()
    if len(values) == 0:
        raise ValueError("no masked patch to group by keypoint density.")
    rows = []
    groups = density_bins(dens, bins)
    first = NO_KEYPOINTS_BIN if groups[0][0] == "no keypoints" else 1
    for number, (label, group) in enumerate(groups, first):
        rows.append({"decile": number, "label": label, "density_low": float(dens[group].min()),
                     "density_high": float(dens[group].max()), "density_mean": float(dens[group].mean()),
                     "error_mean": float(values[group].mean()), "count": int(len(group)),
                     "patches": int(len(group))})
    return rows


def bin_count(row: dict) -> int | None:
    """A density bin's patch count, from new (``count``) or older (``patches``) records."""
    value = row.get("count", row.get("patches"))
    return None if value is None else int(value)


def bin_name(row: dict) -> str:
    """How a density bin is named in text: "no keypoints" or "bin 3"."""
    if row.get("label") == "no keypoints":
        return "no keypoints"
    return f"bin {row['decile']}"


def masked_patches(masks: torch.Tensor, model_patch_size: int, patch_size: int) -> torch.Tensor:
    """Which ``patch_size`` patches are entirely masked: (N, g, g) token masks -> bool (N, H/ps, H/ps)."""
    pixels = masks.float().repeat_interleave(model_patch_size, 1).repeat_interleave(model_patch_size, 2)
    return torch.nn.functional.avg_pool2d(pixels.unsqueeze(1), patch_size).squeeze(1) >= 1.0 - 1e-6
