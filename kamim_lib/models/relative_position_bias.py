"""BEiT-style relative position bias for a ViT with a CLS token, gatherable for a subset of tokens (PSS §3.4).

One table per block: (2g−1)² entries for patch-to-patch offsets plus 3 for CLS→patch, patch→CLS and CLS→CLS,
each with one value per head. A fixed (1+N, 1+N) index maps every query/key pair to its entry. Under PSS token
dropping the kept tokens are re-ordered and sparse, so the bias is gathered for the kept positions per sample:
``bias[b, :, i, j] = full[:, keep[b, i], keep[b, j]]``.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn


def relative_position_index(grid: int) -> torch.Tensor:
    """(1+N, 1+N) int64 table index of every (query, key) pair, CLS at position 0, N = grid².

    Patch pairs map to (dy + g − 1)(2g − 1) + (dx + g − 1); CLS→patch, patch→CLS and CLS→CLS to the last three
    entries, (2g−1)², (2g−1)² + 1 and (2g−1)² + 2.
    """
    coords = torch.stack(torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")).flatten(1)  # (2, N)
    offsets = coords[:, :, None] - coords[:, None, :] + (grid - 1)  # (2, N, N), each in [0, 2g−2]
    span = 2 * grid - 1
    patch_entries = span * span
    index = torch.empty(grid * grid + 1, grid * grid + 1, dtype=torch.int64)
    index[1:, 1:] = offsets[0] * span + offsets[1]
    index[0, 1:] = patch_entries
    index[1:, 0] = patch_entries + 1
    index[0, 0] = patch_entries + 2
    return index


class RelativePositionBias(nn.Module):
    """A learned per-head bias on the attention logits, by relative position (one instance per block).

    Args:
        grid: g, patch tokens per side.
        num_heads: attention heads of the block.

    The table starts at zero (BEiT), so a fresh bias leaves the attention unchanged until it is trained.
    """

    def __init__(self, grid: int, num_heads: int):
        super().__init__()
        self.grid = grid
        self.num_heads = num_heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * grid - 1) ** 2 + 3, num_heads))
        # Derived from the geometry, so not saved (the checkpoint loader treats *relative_position_index as such).
        self.register_buffer("relative_position_index", relative_position_index(grid), persistent=False)

    def full(self) -> torch.Tensor:
        """(heads, 1+N, 1+N) bias of the whole sequence."""
        return self.relative_position_bias_table[self.relative_position_index].permute(2, 0, 1)

    def forward(self, keep_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The bias to add to the attention logits.

        Args:
            keep_index: None (all 1+N tokens), or (B, K) int64 positions of the kept tokens in sequence order.

        Returns:
            (1, heads, 1+N, 1+N) or (B, heads, K, K).
        """
        if keep_index is None:
            return self.full().unsqueeze(0)
        # Gather the index pairs first (rows, then columns), then look the table up once: (B, K, K, heads).
        pairs = self.relative_position_index[keep_index[:, :, None], keep_index[:, None, :]]
        return self.relative_position_bias_table[pairs].permute(0, 3, 1, 2)
