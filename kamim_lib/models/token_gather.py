"""Selecting tokens by position, per sample (PSS's kept tokens, SemanticMIM's visible and masked sets)."""
from __future__ import annotations

import torch


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(B, T, D) tokens, (B, K) int64 positions -> (B, K, D) in the order of ``index``."""
    return torch.gather(tokens, 1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
