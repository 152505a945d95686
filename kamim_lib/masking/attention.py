"""AttMask on the SimMIM pipeline: mask the cells a teacher's CLS attention ranks highest, lowest, or highest with
a few salient hints revealed (Kakogeorgiou et al., ECCV 2022; PEERS §2.7).

The teacher (an EMA of the encoder, or the student itself without gradients) sees the *unmasked* image; its
last-block CLS→patch attention, averaged over heads, is the saliency of each token, pooled to mask cells (or used
per token). The number masked is SimMIM's K = ceil(c²·r) by default (AttMask itself uses floor), so that AttMask,
SimMIM and KAMIM mask the same amount. Masks are drawn on the device, per batch.
"""
from __future__ import annotations

import copy
import dataclasses
import math

import torch

from kamim_lib._random import seeded_uniform
from kamim_lib.plugins import param

from kamim_lib.masking.base import MaskingStrategy
from kamim_lib.masking.cells import (MASK_COUNT_ROUNDINGS, RandomCellMask, cells_to_tokens, masked_count,
                                     seeded_random_cell_masks, tokens_to_cells)
from kamim_lib.masking.registry import register_masking
from kamim_lib.models.attention_probs import vit_attention_probs
from kamim_lib.models.registry import model_patch_size
from kamim_lib.data.normalization import normalize_on_device

ATTMASK_MODES = ("high", "low", "hint")
TEACHERS = ("ema", "student")
LEVELS = ("cell", "token")


def attention_guided_mask(saliency: torch.Tensor, num_masked: int, mode: str, show_max: float = 0.1,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """AttMask's selection rule on a grid of saliencies.

    Args:
        saliency: (B, c, c) float, higher = more salient.
        num_masked: K cells to mask per image (1 <= K <= c²).
        mode: "high" masks the K most salient cells; "low" the K least salient; "hint" starts from "high" and
            un-masks floor(show_max·K) cells drawn uniformly without replacement among the floor(show_max·c²) most
            salient ones.
        show_max: the hint fraction (AttMask's default 0.1).
        generator: CPU generator for the hint draw (None: torch's global RNG).

    Returns:
        (B, c, c) int64 on ``saliency.device``, 1 = masked: K per image ("high", "low"), K − floor(show_max·K)
        ("hint").

    Raises:
        ValueError: unknown mode, K out of range, or a hint count of 0 (the grid is too small for hints: AttMask's
            own code crashes there and a silent guard would equal "high").
    """
    if mode not in ATTMASK_MODES:
        raise ValueError(f"mode={mode!r} is not supported; choose one of {', '.join(ATTMASK_MODES)}.")
    if saliency.ndim != 3 or saliency.shape[1] != saliency.shape[2]:
        raise ValueError(f"saliency must be (B, c, c), got {tuple(saliency.shape)}.")
    batch, side = saliency.shape[0], saliency.shape[1]
    cells = side * side
    if not 1 <= num_masked <= cells:
        raise ValueError(f"num_masked={num_masked} must be in [1, {cells}] for a {side}x{side} grid.")
    flat = saliency.reshape(batch, cells)
    chosen = flat.topk(num_masked, dim=1, largest=mode != "low").indices
    mask = torch.zeros(batch, cells, dtype=torch.int64, device=saliency.device).scatter_(1, chosen, 1)
    if mode == "hint":
        reveal, pool = hint_counts(num_masked, cells, show_max)
        top = flat.topk(pool, dim=1).indices                          # (B, pool) the most salient cells
        keys = torch.rand(batch, pool, generator=generator).to(saliency.device)
        picked = top.gather(1, keys.topk(reveal, dim=1).indices)      # uniform without replacement
        mask.scatter_(1, picked, 0)
    return mask.reshape(batch, side, side)


def hint_counts(num_masked: int, cells: int, show_max: float) -> tuple[int, int]:
    """(cells revealed, pool of most salient cells they are drawn from) = (floor(show_max·K), floor(show_max·c²)).

    Raises:
        ValueError: either count is 0 (too few cells for hints; use attmask_level=token or a larger grid).
    """
    reveal, pool = math.floor(show_max * num_masked + 1e-9), math.floor(show_max * cells + 1e-9)
    if reveal < 1 or pool < 1:
        raise ValueError(f"attmask hint reveals floor({show_max}·{num_masked}) = {reveal} of the "
                         f"floor({show_max}·{cells}) = {pool} most salient cells: no hint is possible on this grid; "
                         "use attmask_level=token, a larger grid (img_size / mask_patch_size) or a larger show_max")
    return reveal, pool


def attmask_selection(geometry: RandomCellMask, level: str, rounding: str) -> tuple[int, int, int]:
    """What AttMask ranks and how many of them it masks; the one source for the strategy and its config check.

    Args:
        geometry: the mask geometry (input size, cell side s, model patch side p, ratio r).
        level: "cell" ranks the c x c mask cells; "token" ranks the g x g tokens.
        rounding: "ceil" (K = ceil(n·r), SimMIM's count) or "floor" (AttMask's), n = units per side².

    Returns:
        (tokens per ranked unit along each axis, units per side, K units masked per image, at least 1); at
        192/32/16 px and r = 0.6: (2, 6, 22) for cells with ceil, (1, 12, 86) for tokens with floor.
    """
    token_level = level == "token"
    scale = 1 if token_level else geometry.scale
    side = geometry.token_grid if token_level else geometry.cells_per_side
    return scale, side, max(1, masked_count(side * side, geometry.mask_ratio, rounding))


def cls_attention_saliency(encoder: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Last-block CLS→patch attention averaged over heads, on the unmasked images.

    Args:
        encoder: a :class:`~kamim_lib.models.vit.MaskedViTEncoder` (needs a CLS token).
        images: ImageNet-normalised float (B, 3, H, W).

    Returns:
        (B, g, g) float32 saliency, each image's values summing to 1 (the CLS row renormalised without itself).
    """
    tokens = encoder.embed(images)  # no mask: the teacher sees the whole image
    for block in encoder.blocks[:-1]:
        tokens = block(tokens)
    probs = vit_attention_probs(encoder.blocks[-1], tokens)          # (B, heads, 1 + N, 1 + N)
    cls_row = probs[:, :, 0, 1:].float().mean(dim=1)                 # (B, N)
    cls_row = cls_row / cls_row.sum(dim=1, keepdim=True)
    side = encoder.token_grid
    return cls_row.reshape(images.shape[0], side, side)


def ema_momentum(step: int, total_steps: int, base: float) -> float:
    """The teacher momentum at optimiser step ``step``: ``1 − (1 − base)·(cos(π·step/total) + 1)/2`` (base → 1)."""
    progress = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, momentum: float) -> None:
    """``teacher ← momentum·teacher + (1 − momentum)·student``, parameter by parameter (buffers copied)."""
    for t, s in zip(teacher.parameters(), student.parameters()):
        t.mul_(momentum).add_(s.detach(), alpha=1.0 - momentum)
    for t, s in zip(teacher.buffers(), student.buffers()):
        t.copy_(s)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AttMaskOptions:
    """AttMask's configuration keys (PEERS §2.7; SimMIM-compatible defaults)."""

    attmask_mode: str = param("high", "AttMask rule: high (mask the most attended cells), low (the least) or hint "
                                      "(high with floor(show_max*K) of the most salient revealed)",
                              choices=ATTMASK_MODES)
    attmask_teacher: str = param("ema", "attention source: ema (an EMA copy of the encoder, momentum "
                                        "teacher_momentum -> 1 on a cosine) or student (the encoder itself, no grad)",
                                 choices=TEACHERS)
    teacher_momentum: float = param(0.996, "initial EMA momentum of the AttMask teacher (reaches 1 at the end)",
                                    minimum=0)
    attmask_level: str = param("cell", "rank mask cells (saliency averaged over each cell's tokens, SimMIM's large "
                                       "cells) or single tokens (AttMask's literal behaviour)", choices=LEVELS)
    attmask_rounding: str = param("ceil", "masked count: ceil(n*r) as SimMIM (comparable with it) or floor(n*r) "
                                          "as AttMask", choices=MASK_COUNT_ROUNDINGS)
    show_max: float = param(0.1, "AttMask-hint: fraction of the masked cells revealed among the most salient",
                            minimum=0, exclusive_minimum=True)
    masking_prob: float = param(1.0, "probability that an image gets the attention-guided mask; otherwise a "
                                     "random SimMIM mask (AttMask: 0.5 with an unmasked image)", minimum=0)
    masking_warmup_epochs: int = param(0, "epochs of random SimMIM masks before attention guides the masks "
                                          "(an untrained teacher's attention is noise)", minimum=0)


@register_masking
class AttMask(MaskingStrategy):
    """``masking=attmask``: attention-guided masks from a teacher that sees the unmasked image."""

    name = "attmask"
    mode_key = "attmask_mode"
    summary = "AttMask (Kakogeorgiou et al., ECCV 2022): mask by the teacher's CLS attention"
    Options = AttMaskOptions
    on_device = True

    def __init__(self, options: AttMaskOptions, *, geometry: RandomCellMask):
        super().__init__(options, geometry=geometry)
        self.selection_scale, self.units_per_side, self.num_masked = attmask_selection(
            geometry, options.attmask_level, options.attmask_rounding)
        self.teacher: torch.nn.Module | None = None
        self.student: torch.nn.Module | None = None

    @classmethod
    def option_problems(cls, config) -> list[str]:
        problems = []
        if not config.model.startswith("vit"):
            problems.append(f"masking='attmask' needs a ViT (a CLS token and global attention); model="
                            f"{config.model!r} has none")
        if config.masking_prob > 1:
            problems.append(f"masking_prob={config.masking_prob} must be in [0, 1]")
        if not config.teacher_momentum <= 1:
            problems.append(f"teacher_momentum={config.teacher_momentum} must be in [0, 1]")
        if config.masking_warmup_epochs >= config.epochs:
            problems.append(f"masking_warmup_epochs={config.masking_warmup_epochs} must be smaller than "
                            f"epochs={config.epochs}")
        if config.attmask_mode == "hint" and not problems:
            geometry = RandomCellMask(input_size=config.img_size, mask_patch_size=config.mask_patch_size,
                                      model_patch_size=model_patch_size(config.model) or config.mask_patch_size,
                                      mask_ratio=config.mask_ratio)
            _, side, num_masked = attmask_selection(geometry, config.attmask_level, config.attmask_rounding)
            try:
                hint_counts(num_masked, side * side, config.show_max)
            except ValueError as error:
                problems.append(str(error))
        return problems

    def attach(self, model: torch.nn.Module) -> None:
        self.student = model.encoder
        if self.options.attmask_teacher == "ema":
            self.teacher = copy.deepcopy(model.encoder).requires_grad_(False).eval()

    def _teacher(self) -> torch.nn.Module:
        if self.student is None:
            raise RuntimeError("AttMask.attach(model) must be called before masks are drawn")
        return self.teacher if self.teacher is not None else self.student

    def device_mask(self, batch: dict, model: torch.nn.Module, runtime, *, seed: int, epoch: int) -> torch.Tensor:
        images = batch["image"]
        batch_size, device = images.shape[0], images.device
        random_mask = seeded_random_cell_masks(self.geometry, batch_size, seed, device)
        if epoch < self.options.masking_warmup_epochs:
            return random_mask
        teacher = self._teacher()
        was_training = teacher.training
        teacher.eval()
        with torch.no_grad(), runtime.autocast():
            saliency = cls_attention_saliency(teacher, normalize_on_device(images))
        teacher.train(was_training)
        if self.selection_scale > 1:
            saliency = tokens_to_cells(saliency, self.selection_scale)
        generator = torch.Generator().manual_seed((int(seed) + 1) % (2**63))
        selected = attention_guided_mask(saliency, self.num_masked, self.options.attmask_mode,
                                         show_max=self.options.show_max, generator=generator)
        guided = cells_to_tokens(selected, self.selection_scale)
        if self.options.masking_prob >= 1:
            return guided
        use_guided = (seeded_uniform((batch_size,), seed + 2, device) < self.options.masking_prob)
        return torch.where(use_guided[:, None, None], guided, random_mask)

    def after_optimizer_step(self, model: torch.nn.Module, step: int, total_steps: int) -> None:
        if self.teacher is not None:
            ema_update(self.teacher, model.encoder, ema_momentum(step, total_steps, self.options.teacher_momentum))

    def state_dict(self) -> dict:
        return {"teacher": self.teacher.state_dict()} if self.teacher is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.teacher is not None and "teacher" in state:
            self.teacher.load_state_dict(state["teacher"])

    def describe(self) -> dict:
        return {**super().describe(), "attmask_masked_units": self.num_masked,
                "attmask_units_per_side": self.units_per_side}


