"""Mean attention distance (SPEC §3; Dosovitskiy et al. 2021, as used by naver-ai/cl-vs-mim).

For patch-to-patch attention A (CLS dropped, rows renormalised) on a g x g grid of p-pixel tokens,

    distance(image, head) = mean_q Σ_k A_qk · ‖pos_q − pos_k‖₂ · p        (pixels)

then averaged over images. Uniform attention on the 12 x 12 grid of 16-px ViT tokens gives
16 · mean‖pos_q − pos_k‖ = 99.7529... px (every query-key pair, self pairs included); identity attention gives 0.
"""
from __future__ import annotations

from typing import Sequence

import torch

from kamim_lib._validation import check_positive
from kamim_lib.analysis._layers import layer_list, per_layer
from kamim_lib.analysis.tokens import grid_side, patch_attention, token_positions


def token_distance_matrix(grid_size: int, patch_size: float = 1.0, device: torch.device | str | None = None,
                          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Euclidean distance between the centres of every pair of tokens of a g x g grid.

    Args:
        grid_size: g.
        patch_size: pixels per token side (1 gives distances in tokens).

    Returns:
        float (g², g²) in pixels, raster order on both axes, zero diagonal.
    """
    check_positive("patch_size", patch_size)
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size <= 0:
        raise ValueError(f"grid_size must be a positive int, got {grid_size!r}.")
    positions = token_positions(grid_size, device=device, dtype=dtype)
    return torch.cdist(positions, positions) * patch_size


def mean_attention_distance(attn: torch.Tensor, patch_size: float, has_cls: bool | int = True) -> torch.Tensor:
    """Mean attention distance of each head, in pixels.

    Args:
        attn: attention probabilities of one block (B, heads, Q, K), Q = K = prefix + g²; the patch grid must be
            square (g is inferred from K). For Swin pass a block's window attention (B·windows, heads, w², w²):
            distances are then within each (shifted) window's own frame.
        patch_size: pixels per token side at this block (16 for ViT; 4·2^stage for Swin).
        has_cls: True/False, or the number of leading prefix tokens (``model.encoder.num_prefix_tokens``).

    Returns:
        float (heads,): Σ_k A_qk ‖pos_q − pos_k‖ · patch_size averaged over queries and images.
    """
    check_positive("patch_size", patch_size)
    patches = patch_attention(attn, has_cls)
    side = grid_side(patches.shape[-1], "attn")
    distances = token_distance_matrix(side, patch_size, device=patches.device, dtype=patches.dtype)
    per_query = torch.einsum("bhqk,qk->bhq", patches, distances)
    return per_query.mean(dim=(0, 2))


def mean_attention_distance_per_layer(attentions: Sequence[torch.Tensor], patch_size: float | Sequence[float],
                                      has_cls: bool | int = True, per_head: bool = False
                                      ) -> torch.Tensor | list[torch.Tensor]:
    """Mean attention distance of every block, as plotted per layer in SPEC §3.

    Args:
        attentions: one attention tensor per block, each (B, heads, Q, K) (``EncoderIntermediates.attentions``).
        patch_size: pixels per token side, one number for all blocks (ViT) or one per block (Swin stages).
        has_cls: True/False, or the number of leading prefix tokens.
        per_head: False averages heads too (the paper's curve); True keeps them.

    Returns:
        float (L,) averaged over queries, images and heads; or, with ``per_head``, a list of L tensors (heads,)
        (heads may differ between Swin stages).
    """
    attentions = layer_list(attentions, "attentions")
    sizes = per_layer(patch_size, len(attentions), "patch_size")
    per_head_values = [mean_attention_distance(a, s, has_cls) for a, s in zip(attentions, sizes)]
    if per_head:
        return per_head_values
    return torch.stack([values.mean() for values in per_head_values])

