"""How alike the patch tokens of one image are: mean pairwise cosine similarity.

cl-vs-mim (Park et al. 2023) argue that contrastive learning makes self-attention homogeneous: every query gets
almost the same attention output, so an image's tokens collapse toward one vector. KAMIM's paper claims this
contrastive-like behaviour; this number measures it per block (1 = all tokens identical, 0 = orthogonal on
average; random high-dimensional vectors give ≈ 0).
"""
from __future__ import annotations

import torch

from kamim_lib.analysis.tokens import floating, patch_tokens


def mean_token_cosine_similarity(tokens: torch.Tensor, has_cls: bool | int = True) -> torch.Tensor:
    """Mean cosine similarity over all pairs of distinct patch tokens of each image, averaged over images.

    Args:
        tokens: (B, prefix + N, D) token sequences, N ≥ 2.
        has_cls: True/False, or the number of leading prefix tokens to drop.

    Returns:
        float scalar tensor in [−1, 1]. A zero token has similarity 0 with every other token.
    """
    patches = floating(patch_tokens(tokens, has_cls, "tokens"))
    num_tokens = patches.shape[1]
    if num_tokens < 2:
        raise ValueError(f"tokens must hold at least 2 patch tokens per image to compare, got {num_tokens}.")
    unit = torch.nn.functional.normalize(patches, dim=-1)
    # Σ_{q≠k} cos(t_q, t_k) = ‖Σ_q u_q‖² − Σ_q ‖u_q‖²: O(N·D) instead of an N x N Gram matrix.
    total = unit.sum(dim=1).pow(2).sum(dim=-1) - unit.pow(2).sum(dim=(1, 2))
    return (total / (num_tokens * (num_tokens - 1))).mean()
