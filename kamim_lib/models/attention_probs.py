"""Explicit attention probabilities of timm blocks.

timm computes attention with the fused ``F.scaled_dot_product_attention``, which never materialises the
probabilities. These functions recompute them from the block's own weights, softmax(q·kᵀ/√d + bias), on the
side: the block's forward is left untouched, so hidden states are bit-identical whether or not attention is
recorded (at the cost of one extra q/k projection per block).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from timm.models.swin_transformer import window_partition


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def vit_attention_probs(block: nn.Module, tokens: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Attention probabilities of a timm ViT ``Block``.

    Args:
        block: a ``timm.models.vision_transformer.Block`` (``norm1`` then ``attn`` with fused ``qkv``).
        tokens: the block's input (B, T, D), T = prefix tokens + N patches.
        bias: None, or the additive logit bias the block receives (relative position bias), broadcastable to
            (B, heads, T, T).

    Returns:
        (B, heads, T, T) float probabilities; each row sums to 1.
    """
    attn = block.attn
    batch, length, _ = tokens.shape
    qkv = attn.qkv(block.norm1(tokens)).reshape(batch, length, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    query, key = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
    scores = (query * attn.scale) @ key.transpose(-2, -1)
    if bias is not None:
        scores = scores + bias
    return scores.softmax(dim=-1)


def _relative_position_bias(attn: nn.Module) -> torch.Tensor:
    """(heads, w², w²) bias gathered from the block's table by its relative position index."""
    area = attn.relative_position_index.shape[0]
    bias = attn.relative_position_bias_table[attn.relative_position_index.reshape(-1)]
    return bias.reshape(area, area, -1).permute(2, 0, 1)


def swin_attention_probs(block: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Attention probabilities of a timm ``SwinTransformerBlock``, window by window.

    Mirrors the block's own path: norm1, cyclic shift by −shift, pad to whole windows, partition; then
    softmax(q·kᵀ·scale + relative position bias + shifted-window mask (−100 across regions)).

    Args:
        block: a ``timm.models.swin_transformer.SwinTransformerBlock``.
        tokens: the block's input (B, H, W, C).

    Returns:
        (B·nW, heads, w², w²) float probabilities, windows image-major and in raster order.
    """
    window_h, window_w = _pair(block.window_size)
    shift_h, shift_w = _pair(block.shift_size)
    x = block.norm1(tokens)
    if shift_h or shift_w:
        x = torch.roll(x, shifts=(-shift_h, -shift_w), dims=(1, 2))
    height, width = x.shape[1:3]
    x = F.pad(x, (0, 0, 0, (window_w - width % window_w) % window_w, 0, (window_h - height % window_h) % window_h))
    windows = window_partition(x, (window_h, window_w)).reshape(-1, window_h * window_w, x.shape[-1])

    attn = block.attn
    num_windows_total, area, _ = windows.shape
    qkv = attn.qkv(windows).reshape(num_windows_total, area, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    scores = (qkv[0] * attn.scale) @ qkv[1].transpose(-2, -1) + _relative_position_bias(attn).unsqueeze(0)

    region_mask = block.get_attn_mask(x) if getattr(block, "dynamic_mask", False) else block.attn_mask
    if region_mask is not None:
        windows_per_image = region_mask.shape[0]
        scores = scores.view(-1, windows_per_image, attn.num_heads, area, area) + region_mask[None, :, None]
        scores = scores.view(-1, attn.num_heads, area, area)
    return scores.softmax(dim=-1)
