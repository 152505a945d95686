"""PSS: a patch sampling schedule that drops low-score patch tokens while fine-tuning a ViT (PEERS §3).

McDanel & Huynh, "Accelerating Vision Transformer Training via a Patch Sampling Schedule" (arXiv 2208.09520;
code github:BradMcDanel/pss, folder ``simmim/``). Per forward pass, with a batch-wide drop ratio d:

1. tokens X = [CLS; PatchEmbed(img)] + position embeddings, (B, N+1, D);
2. each patch token gets a score (CLS excluded): L1 magnitude ||X_i||_1 (the default), squared L2, uniform
   random, or here also the keypoint density of its patch (KAMIM's prior);
3. the K = round((1−d)(N+1)) − 1 best-scoring patches are kept (top-k, in score order) and CLS is put first;
4. every block runs on the (B, K+1, D) sequence; the head mean-pools the kept patch tokens.

The drop ratio follows a schedule of the optimiser step (linear, cosine, or cyclic within each epoch), clipped
to [0, 1] and rounded to multiples of ``quantum`` (0.2), so only a few sequence lengths ever occur (one compiled
graph each under XLA). Validation always runs at d = 0. Everything here is a plain function or a small
stateless object; the classifier that applies it is ``kamim_lib.engine.pss_classifier.TokenDropClassifier``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kamim_lib._validation import check_choice
from kamim_lib.data.normalization import unnormalize
from kamim_lib.keypoints import keypoint_map
from kamim_lib.weighting import keypoint_density

# The drop-ratio schedules and the patch scorers (config keys pss, pss_scorer; kamim_lib.config.schema imports
# them from here).
PSS_SCHEDULES = ("none", "linear", "cosine", "cyclic")
PSS_SCORERS = ("l1", "l2", "random", "keypoints")
# PSS's configs (START_PATCH_DROP_RATIO 0.8, END -0.1) and the rounding of patch_scheduler.py.
DEFAULT_START = 0.8
DEFAULT_END = -0.1
DEFAULT_QUANTUM = 0.2
# The dynamic-inference sweep of sweep_drop.py.
SWEEP_DROP_RATIOS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _check_ratio(drop_ratio: float) -> None:
    if isinstance(drop_ratio, bool) or not isinstance(drop_ratio, (int, float)) or not 0 <= drop_ratio < 1:
        raise ValueError(f"drop_ratio must be a number in [0, 1), got {drop_ratio!r}.")


def keep_count(num_patches: int, drop_ratio: float) -> int:
    """Patch tokens kept at drop ratio d: K = round((1−d)(N+1)) − 1 (CLS not counted; at least 1).

    N + 1 counts CLS, as PSS does: N = 196 keeps 196 / 157 / 117 / 78 / 38 patches at d = 0 / .2 / .4 / .6 / .8.

    Args:
        num_patches: N, patch tokens of the full image.
        drop_ratio: d in [0, 1).
    """
    if isinstance(num_patches, bool) or not isinstance(num_patches, int) or num_patches <= 0:
        raise ValueError(f"num_patches must be a positive int, got {num_patches!r}.")
    _check_ratio(drop_ratio)
    # round(·, 9) first: (1 − 0.6)·197 is 78.80000000000001 in floating point.
    return max(1, min(num_patches, round(round((1.0 - drop_ratio) * (num_patches + 1), 9)) - 1))


# --- schedules: drop ratio as a function of the optimiser step ----------------------------------------------------

def quantize_drop_ratio(value: float, quantum: float = DEFAULT_QUANTUM) -> float:
    """Clip to [0, 1], then round to the nearest multiple of ``quantum`` (PSS: 0.2 → d ∈ {0, .2, .4, .6, .8, 1})."""
    if not quantum > 0:
        raise ValueError(f"quantum must be > 0, got {quantum!r}.")
    clipped = min(1.0, max(0.0, value))
    return round(round(clipped / quantum) * quantum, 9)


def _check_steps(step: int, total_steps: int) -> None:
    if step < 0 or total_steps <= 0:
        raise ValueError(f"step must be >= 0 and total_steps > 0, got step={step}, total_steps={total_steps}.")


def linear_drop_ratio(step: int, total_steps: int, *, start: float = DEFAULT_START, end: float = DEFAULT_END,
                      quantum: float = DEFAULT_QUANTUM) -> float:
    """d_t = (1−u)·start + u·end with u = t / total_steps, quantised; 0 from ``total_steps`` on."""
    _check_steps(step, total_steps)
    if step >= total_steps:
        return 0.0
    u = step / total_steps
    return quantize_drop_ratio((1 - u) * start + u * end, quantum)


def cosine_drop_ratio(step: int, total_steps: int, *, start: float = DEFAULT_START, end: float = DEFAULT_END,
                      quantum: float = DEFAULT_QUANTUM) -> float:
    """d_t = end + (start − end)(1 + cos(π t / total_steps)) / 2, quantised; 0 from ``total_steps`` on."""
    _check_steps(step, total_steps)
    if step >= total_steps:
        return 0.0
    return quantize_drop_ratio(end + (start - end) * (1 + math.cos(math.pi * step / total_steps)) / 2, quantum)


def cyclic_drop_ratio(step: int, total_steps: int, steps_per_epoch: int, *, start: float = DEFAULT_START,
                      end: float = DEFAULT_END, quantum: float = DEFAULT_QUANTUM) -> float:
    """A triangle wave within each epoch: ``start`` at epoch boundaries, ``end`` mid-epoch; 0 after the end.

    With j = t mod I (I = steps_per_epoch): u = j / (I/2) in the first half, (I − j) / (I/2) in the second;
    d = (1−u)·start + u·end, quantised. Defaults: 0.8 at step 0, 0 at I/2 (−0.1 clipped), 0.8 again at I.
    """
    _check_steps(step, total_steps)
    if steps_per_epoch <= 0:
        raise ValueError(f"steps_per_epoch must be > 0, got {steps_per_epoch}.")
    if step >= total_steps:
        return 0.0
    half = steps_per_epoch / 2
    position = step % steps_per_epoch
    u = position / half if position < half else (steps_per_epoch - position) / half
    return quantize_drop_ratio((1 - u) * start + u * end, quantum)


def scheduled_drop_ratio(schedule: str, step: int, *, total_steps: int, steps_per_epoch: int,
                         start: float = DEFAULT_START, end: float = DEFAULT_END,
                         quantum: float = DEFAULT_QUANTUM) -> float:
    """The drop ratio of ``schedule`` ("none", "linear", "cosine", "cyclic") at optimiser step ``step``."""
    check_choice("pss", schedule, PSS_SCHEDULES)
    if schedule == "none":
        return 0.0
    if schedule == "cyclic":
        return cyclic_drop_ratio(step, total_steps, steps_per_epoch, start=start, end=end, quantum=quantum)
    function = linear_drop_ratio if schedule == "linear" else cosine_drop_ratio
    return function(step, total_steps, start=start, end=end, quantum=quantum)


def applied_drop_ratio(schedule: str, steps_done: int, **schedule_kwargs) -> float:
    """The ratio the model uses for the optimiser step after ``steps_done`` completed ones, as PSS's loop does.

    PSS sets ``model.set_patch_drop_ratio(scheduler.get())`` and then ``scheduler.step()`` *after* each optimiser
    step, so the first step runs at the model's initial d = 0 and step s ≥ 1 at the schedule's value for s − 1.
    """
    if steps_done <= 0:
        return 0.0
    return scheduled_drop_ratio(schedule, steps_done - 1, **schedule_kwargs)


# --- scoring and selecting patch tokens ------------------------------------------------------------------------

def keypoint_density_scores(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Fraction of FAST keypoint pixels (the original's ring map) per model patch, computed on the device.

    Args:
        images: ImageNet-normalised float (B, 3, H, W) (what the classifier receives).
        patch_size: the encoder's patch side p.

    Returns:
        float (B, N) densities, N = (H/p)², raster order.
    """
    pixels = (unnormalize(images.detach().float()) * 255.0).round().clamp(0, 255).to(torch.uint8)
    kmap = keypoint_map(pixels, detector="fast", mode="faithful", backend="torch")
    return keypoint_density(kmap, patch_size).flatten(1)


def score_patch_tokens(patch_tokens: torch.Tensor, scorer: str, *, images: torch.Tensor | None = None,
                       patch_size: int | None = None) -> torch.Tensor:
    """Scores of the patch tokens (higher = kept first).

    Args:
        patch_tokens: (B, N, D) tokens after the position embeddings (CLS excluded).
        scorer: "l1" (||x||_1, PSS's "magnitude"), "l2" (squared L2), "random" (uniform), or "keypoints" (keypoint
            density of the patch; needs ``images`` and ``patch_size``).

    Returns:
        float (B, N).
    """
    check_choice("pss_scorer", scorer, PSS_SCORERS)
    if scorer == "l1":
        return patch_tokens.detach().float().abs().sum(dim=-1)
    if scorer == "l2":
        return patch_tokens.detach().float().pow(2).sum(dim=-1)
    if scorer == "random":
        return torch.rand(patch_tokens.shape[:2], device=patch_tokens.device)
    if images is None or patch_size is None:
        raise ValueError("scorer='keypoints' needs the images and the patch size.")
    scores = keypoint_density_scores(images, patch_size)
    if scores.shape != patch_tokens.shape[:2]:
        raise ValueError(f"keypoint scores {tuple(scores.shape)} do not match the tokens {tuple(patch_tokens.shape)}.")
    return scores


def keep_indices(scores: torch.Tensor, keep: int) -> torch.Tensor:
    """Sequence positions to keep: CLS (0) first, then the ``keep`` best patches in descending score order.

    Args:
        scores: (B, N) patch scores.
        keep: K in [1, N].

    Returns:
        int64 (B, K + 1) indices into the (B, 1 + N, D) token sequence.
    """
    top = scores.topk(keep, dim=1, largest=True, sorted=True).indices + 1
    cls = torch.zeros(scores.shape[0], 1, dtype=top.dtype, device=top.device)
    return torch.cat([cls, top], dim=1)


@dataclass(frozen=True)
class TokenDrop:
    """How a classifier picks the tokens it keeps (stateless; the drop ratio is passed per call).

    Attributes:
        scorer: one of ``PSS_SCORERS``.
        patch_size: the encoder's patch side (for the keypoint scorer).
    """

    scorer: str = "l1"
    patch_size: int = 16

    def __post_init__(self) -> None:
        check_choice("pss_scorer", self.scorer, PSS_SCORERS)

    def keep_index(self, tokens: torch.Tensor, images: torch.Tensor, drop_ratio: float,
                   num_prefix_tokens: int = 1) -> torch.Tensor:
        """(B, K + 1) positions to keep in ``tokens`` (B, 1 + N, D) at ``drop_ratio``; CLS first."""
        if num_prefix_tokens != 1:
            raise ValueError(f"token dropping needs exactly one CLS token, this encoder has {num_prefix_tokens}.")
        patch_tokens = tokens[:, 1:]
        keep = keep_count(patch_tokens.shape[1], drop_ratio)
        scores = score_patch_tokens(patch_tokens, self.scorer, images=images, patch_size=self.patch_size)
        return keep_indices(scores, keep)
