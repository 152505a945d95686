"""Keypoint-density-guided masking: KAMIM's prior used for *what to hide* instead of *how much to weigh*.

Per image, the fraction of keypoint-map pixels in each mask cell (the density Ω of SPEC §1.3 at the cell size)
decides which K = ceil(c²·r) cells are masked: the densest, the sparsest, or K drawn without replacement with
probability ∝ (Ω + ε)^β (Gumbel top-k; β = 0 is SimMIM's uniform draw). Keypoints come from the exact batched torch
FAST on the training device, on the same augmented crop the model sees; combine with ``method=kamim`` to also weigh
the loss.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from kamim_lib._random import seeded_uniform
from kamim_lib.keypoints.options import KeypointMapOptions
from kamim_lib.plugins import param

from kamim_lib.masking.base import MaskingStrategy
from kamim_lib.masking.cells import cells_to_tokens
from kamim_lib.masking.registry import register_masking
from kamim_lib.keypoints import keypoint_map

DENSITY_MODES = ("highest", "lowest", "sample")
# Added to densities before the power so that cells without keypoints can still be sampled.
DENSITY_EPS = 1e-3


def density_guided_mask(density: torch.Tensor, num_masked: int, mode: str, beta: float = 1.0,
                        uniform: torch.Tensor | None = None) -> torch.Tensor:
    """Choose the masked cells from a density per cell.

    Args:
        density: (B, c, c) float in [0, 1].
        num_masked: K cells per image (1 <= K <= c²).
        mode: "highest" (the K densest cells), "lowest" (the K sparsest) or "sample" (K without replacement,
            P ∝ (density + 1e-3)^beta, by Gumbel top-k).
        beta: the sampling exponent ("sample" only; 0 = uniform).
        uniform: (B, c²) U(0, 1) draws for "sample" (required there).

    Returns:
        (B, c, c) int64, exactly K ones per image.
    """
    if mode not in DENSITY_MODES:
        raise ValueError(f"mode={mode!r} is not supported; choose one of {', '.join(DENSITY_MODES)}.")
    batch, side = density.shape[0], density.shape[-1]
    cells = side * side
    if not 1 <= num_masked <= cells:
        raise ValueError(f"num_masked={num_masked} must be in [1, {cells}] for a {side}x{side} grid.")
    scores = density.reshape(batch, cells).float()
    if mode == "sample":
        if uniform is None or uniform.shape != (batch, cells):
            raise ValueError(f"mode='sample' needs uniform draws of shape ({batch}, {cells}).")
        gumbel = -torch.log(-torch.log(uniform.clamp(1e-12, 1 - 1e-7)))
        scores = beta * torch.log(scores + DENSITY_EPS) + gumbel
    chosen = scores.topk(num_masked, dim=1, largest=mode != "lowest").indices
    mask = torch.zeros(batch, cells, dtype=torch.int64, device=density.device).scatter_(1, chosen, 1)
    return mask.reshape(batch, side, side)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DensityOptions(KeypointMapOptions):
    """Density-guided masking's configuration keys."""

    density_mode: str = param("highest", "which cells to mask by keypoint density: highest, lowest, or sample "
                                         "(probability proportional to density^density_beta)",
                              choices=DENSITY_MODES)
    density_beta: float = param(1.0, "exponent of density-proportional sampling (0: uniform, as SimMIM)",
                                minimum=0)


@register_masking
class DensityGuided(MaskingStrategy):
    """``masking=density``: mask cells chosen by FAST keypoint density, computed on the device."""

    name = "density"
    mode_key = "density_mode"
    summary = "mask cells by FAST keypoint density (highest, lowest or sampled), computed on the device"
    Options = DensityOptions
    on_device = True

    def device_mask(self, batch: dict, model: torch.nn.Module, runtime, *, seed: int, epoch: int) -> torch.Tensor:
        images = batch["image"]
        keypoints = keypoint_map(images, detector="fast", mode=self.options.keypoint_mode,
                                 backend="torch")                                           # (B, 1, H, W)
        density = F.avg_pool2d(keypoints.float(), self.geometry.mask_patch_size).squeeze(1)  # (B, c, c)
        uniform = None
        if self.options.density_mode == "sample":
            uniform = seeded_uniform((images.shape[0], self.geometry.cells_per_side ** 2), seed, images.device)
        cells = density_guided_mask(density, self.geometry.num_masked, self.options.density_mode,
                                    beta=self.options.density_beta, uniform=uniform)
        return cells_to_tokens(cells, self.geometry.scale)
