"""Attention maps: where one query token looks, as an image over the token grid (SPEC §3)."""
from __future__ import annotations

import torch

from kamim_lib.analysis.tokens import grid_side, patch_attention


def attention_map(attn: torch.Tensor, query_index: int | tuple[int, int], head: int, grid_size: int | None = None,
                  has_cls: bool | int = True) -> torch.Tensor:
    """Attention of one query patch token over all patch tokens, reshaped to the token grid.

    CLS (prefix) rows and columns are dropped and the query's row renormalised to sum to 1 before the reshape,
    so the map is a distribution over patches only.

    Args:
        attn: attention probabilities of one block (B, heads, Q, K), Q = K = prefix + g².
        query_index: the query patch, either its raster index among patch tokens (0 ≤ i < g², CLS not counted)
            or its (row, col) on the grid.
        head: which head (0 ≤ head < heads).
        grid_size: g; None infers it from K (the grid must be square).
        has_cls: True/False, or the number of leading prefix tokens (``model.encoder.num_prefix_tokens``).

    Returns:
        float (B, g, g), each map summing to 1.
    """
    patches = patch_attention(attn, has_cls)
    num_heads, num_patches = patches.shape[1], patches.shape[-1]
    side = grid_side(num_patches, "attn") if grid_size is None else grid_size
    if isinstance(side, bool) or not isinstance(side, int) or side * side != num_patches:
        raise ValueError(f"grid_size={grid_size!r} does not match the {num_patches} patch tokens of attn "
                         f"(expected g with g*g = {num_patches}; check has_cls).")
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < num_heads:
        raise ValueError(f"head must be an int in [0, {num_heads}), got {head!r}.")
    if isinstance(query_index, tuple):
        if len(query_index) != 2 or not all(isinstance(v, int) and 0 <= v < side for v in query_index):
            raise ValueError(f"query_index as (row, col) must hold two ints in [0, {side}), got {query_index!r}.")
        query_index = query_index[0] * side + query_index[1]
    if isinstance(query_index, bool) or not isinstance(query_index, int) or not 0 <= query_index < num_patches:
        raise ValueError(f"query_index must be a patch-token index in [0, {num_patches}) (CLS not counted) "
                         f"or a (row, col) pair, got {query_index!r}.")
    return patches[:, head, query_index].reshape(-1, side, side)
