"""Token bookkeeping shared by the analysis functions: prefix (CLS) tokens, square grids, attention rows.

Every analysis function takes ``has_cls``: ``True`` / ``False`` for one leading CLS token or none, or an int
giving the number of leading prefix tokens to drop (pass ``model.encoder.num_prefix_tokens``: 1 for our ViTs,
0 for Swin). Prefix tokens are dropped before anything is measured, as in SPEC §3.
"""
from __future__ import annotations

import math

import torch


def num_prefix_tokens(has_cls: bool | int) -> int:
    """How many leading tokens ``has_cls`` asks to drop (True → 1, False → 0, an int ≥ 0 → itself)."""
    if isinstance(has_cls, bool):
        return int(has_cls)
    if isinstance(has_cls, int) and has_cls >= 0:
        return has_cls
    raise ValueError(f"has_cls must be True/False or the number of leading prefix tokens (an int >= 0), "
                     f"got {has_cls!r}.")


def grid_side(num_tokens: int, name: str = "tokens") -> int:
    """Side g of the square g x g token grid holding ``num_tokens`` patch tokens.

    Raises:
        ValueError: when ``num_tokens`` is not a perfect square (e.g. a CLS token was left in: set has_cls).
    """
    side = math.isqrt(num_tokens)
    if num_tokens <= 0 or side * side != num_tokens:
        raise ValueError(f"{name}: {num_tokens} patch tokens do not form a square grid; check has_cls "
                         "(the number of leading CLS/prefix tokens to drop) and that the image is square.")
    return side


def floating(tensor: torch.Tensor) -> torch.Tensor:
    """Float32 copy of low-precision (bf16/fp16/int) input; float32/float64 pass through unchanged.

    Analysis sums over thousands of terms; bf16 accumulation would visibly bias the per-layer curves.
    """
    if tensor.dtype in (torch.float32, torch.float64):
        return tensor
    return tensor.float()


def patch_tokens(hidden_state: torch.Tensor, has_cls: bool | int = True, name: str = "hidden_state") -> torch.Tensor:
    """Drop the prefix tokens of a token sequence.

    Args:
        hidden_state: (B, P + N, D) tokens, P = number of prefix tokens.
        has_cls: see the module docstring.
        name: argument name used in error messages.

    Returns:
        (B, N, D) patch tokens (a view).
    """
    if not isinstance(hidden_state, torch.Tensor) or hidden_state.ndim != 3:
        shape = tuple(hidden_state.shape) if isinstance(hidden_state, torch.Tensor) else type(hidden_state).__name__
        raise ValueError(f"{name} must be a tensor of tokens (B, N, D), got {shape}.")
    prefix = num_prefix_tokens(has_cls)
    if hidden_state.shape[1] <= prefix:
        raise ValueError(f"{name} has {hidden_state.shape[1]} tokens, not more than the {prefix} prefix tokens "
                         "that has_cls asks to drop.")
    return hidden_state[:, prefix:]


def patch_attention(attn: torch.Tensor, has_cls: bool | int = True, name: str = "attn") -> torch.Tensor:
    """Patch-to-patch attention: drop prefix rows and columns, then renormalise every row to sum to 1.

    Args:
        attn: attention probabilities (B, heads, Q, K), rows summing to 1 over K; with P prefix tokens,
            Q = K = P + N. (For Swin, B is batch x windows.)
        has_cls: see the module docstring.
        name: argument name used in error messages.

    Returns:
        float (B, heads, N, N), rows summing to 1 (float32, or float64 for float64 input). A row whose whole
        mass sat on prefix tokens stays all zero rather than becoming NaN.
    """
    if not isinstance(attn, torch.Tensor) or attn.ndim != 4:
        shape = tuple(attn.shape) if isinstance(attn, torch.Tensor) else type(attn).__name__
        raise ValueError(f"{name} must be attention probabilities of shape (B, heads, Q, K), got {shape}; "
                         "pass one layer's tensor (per-layer helpers take the list).")
    prefix = num_prefix_tokens(has_cls)
    if attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"{name} must be self-attention with Q == K, got Q={attn.shape[-2]}, K={attn.shape[-1]}.")
    if attn.shape[-1] <= prefix:
        raise ValueError(f"{name} has {attn.shape[-1]} tokens, not more than the {prefix} prefix tokens to drop.")
    rows = floating(attn)[..., prefix:, prefix:]
    # The smallest normal number keeps an all-zero row at zero instead of 0/0.
    return rows / rows.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(rows.dtype).tiny)


def token_positions(grid_size: int, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(row, col) of each token of a g x g grid in row-major (raster) order, i.e. the order of patch tokens.

    Returns:
        float (g·g, 2).
    """
    index = torch.arange(grid_size * grid_size, device=device)
    return torch.stack((index // grid_size, index % grid_size), dim=-1).to(dtype)
