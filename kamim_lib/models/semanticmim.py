"""SemanticMIM: a few proxy tokens are the only path from the visible to the masked tokens (PEERS §4).

Yuan et al., "Marring Masked Image Modeling with Semantics Compression for General Visual Representation"
(arXiv 2406.10673; code github:yyk-wew/SemanticMIM). Token sets, for a token mask with the same number of masked
tokens in every image:

- P: n_p proxy tokens (the encoder's CLS token plus n_p − 1 more, all with the CLS position embedding), (B, n_p, D);
- V: visible patch tokens, patch embedding + position embedding, (B, N_v, D);
- M: mask tokens, the learned mask token + position embedding at the masked positions, (B, N_m, D).

Per depth i (``use_bottleneck=True``): encoder block E_i runs self-attention over [P; V]; then an extra block X_i
(same width, its own weights) updates M with queries M and keys/values [P (just updated); M]. Mask tokens never
see visible tokens, and proxies are not updated by the mask stream. After the last depth the encoder's final
LayerNorm is applied to M and a linear head predicts the target of each masked patch. ``use_bottleneck=False``
runs the encoder blocks jointly over [P; V; M] instead (a BEiT/MaskFeat-style baseline with reordered tokens).

The encoder is a plain ``MaskedViTEncoder``: the state dict under ``encoder.`` is exactly the ViT's, so fine-tuning
and probing load it unchanged; ``extra_proxy_tokens``, ``extra_layers`` and ``head`` are pretraining-only.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from timm.models.vision_transformer import Block

from kamim_lib.models.architectures import ViTArch
from kamim_lib.models.inputs import check_image_batch
from kamim_lib.models.mask_token import flatten_token_mask
from kamim_lib.models.token_gather import gather_tokens
from kamim_lib.models.vit import MaskedViTEncoder
from kamim_lib.models.weight_init import INIT_STD, init_linear_and_norm


def cross_attention_block(block: Block, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """A timm ViT ``Block`` whose attention takes queries from ``queries`` and keys/values from ``context``.

    The block's own weights are used: q from the first third of the fused ``qkv`` projection, k and v from the
    rest; pre-norm ``norm1`` on both streams, residual and MLP on the queries. ``cross_attention_block(b, x, x)``
    equals ``b(x)``.

    Args:
        block: a timm ``Block``.
        queries: (B, Q, D).
        context: (B, T, D).

    Returns:
        (B, Q, D) updated queries.
    """
    attn = block.attn
    batch, num_queries, dim = queries.shape
    heads = attn.num_heads
    head_dim = attn.head_dim
    weight, bias = attn.qkv.weight, attn.qkv.bias
    width = heads * head_dim
    normed_queries, normed_context = block.norm1(queries), block.norm1(context)
    query = F.linear(normed_queries, weight[:width], None if bias is None else bias[:width])
    key_value = F.linear(normed_context, weight[width:], None if bias is None else bias[width:])
    query = query.view(batch, num_queries, heads, head_dim).transpose(1, 2)
    key, value = key_value.view(batch, context.shape[1], 2, heads, head_dim).permute(2, 0, 3, 1, 4)
    query, key = attn.q_norm(query), attn.k_norm(key)
    mixed = F.scaled_dot_product_attention(query, key, value,
                                           dropout_p=attn.attn_drop.p if block.training else 0.0)
    mixed = attn.proj_drop(attn.proj(attn.norm(mixed.transpose(1, 2).reshape(batch, num_queries, width))))
    updated = queries + block.drop_path1(block.ls1(mixed))
    return updated + block.drop_path2(block.ls2(block.mlp(block.norm2(updated))))


def split_by_mask(mask: torch.Tensor, num_masked: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Visible and masked token positions of a mask with ``num_masked`` masked tokens in every image.

    Args:
        mask: (B, N) 0/1, 1 = masked.
        num_masked: N_m, the same for every image (SimMIM-style masks mask a fixed count).

    Returns:
        ``(visible (B, N − N_m), masked (B, N_m))`` int64 positions, each in increasing order.
    """
    order = torch.argsort(mask.to(torch.int64), dim=1, stable=True)
    return order[:, :mask.shape[1] - num_masked], order[:, mask.shape[1] - num_masked:]


@dataclass
class MaskStreamOutput:
    """What ``SemanticMIMModel.forward`` returns.

    Attributes:
        predictions: (B, N_m, out_dim) head output for the masked tokens.
        masked_index: (B, N_m) int64 raster positions of those tokens.
    """

    predictions: torch.Tensor
    masked_index: torch.Tensor


class SemanticMIMModel(nn.Module):
    """ViT encoder + proxy-bottleneck mask stream + linear head (see the module docstring).

    Args:
        arch: a ``ViTArch`` (the encoder; the extra blocks copy its width, heads and MLP ratio).
        num_proxies: n_p ≥ 1 proxy tokens (the first is the encoder's CLS token).
        out_dim: values predicted per masked patch (3p² for pixels, 108 for HOG at p = 16).
        use_bottleneck: the proxy bottleneck (True) or joint attention over [P; V; M] (False).
        name: registry name of the encoder (messages, checkpoints).
    """

    def __init__(self, arch: ViTArch, *, num_proxies: int = 1, out_dim: int, use_bottleneck: bool = True,
                 name: Optional[str] = None):
        super().__init__()
        if not isinstance(arch, ViTArch):
            raise ValueError(f"SemanticMIM needs a ViT (global proxy tokens); got {type(arch).__name__}.")
        if isinstance(num_proxies, bool) or not isinstance(num_proxies, int) or num_proxies < 1:
            raise ValueError(f"num_proxies must be an int >= 1, got {num_proxies!r}.")
        self.arch = arch
        self.name = name
        self.family = "vit"
        self.encoder = MaskedViTEncoder(arch)
        self.num_proxies = num_proxies
        self.use_bottleneck = use_bottleneck
        self.img_size = arch.img_size
        self.patch_size = arch.patch_size
        self.token_grid = arch.token_grid
        self.embed_dim = arch.embed_dim
        self.extra_proxy_tokens = nn.Parameter(torch.zeros(1, num_proxies - 1, arch.embed_dim)) \
            if num_proxies > 1 else None
        self.extra_layers = nn.ModuleList(
            Block(dim=arch.embed_dim, num_heads=arch.num_heads, mlp_ratio=arch.mlp_ratio, qkv_bias=True,
                  norm_layer=partial(nn.LayerNorm, eps=arch.layer_norm_eps), act_layer=nn.GELU)
            for _ in range(arch.depth)) if use_bottleneck else None
        self.head = nn.Linear(arch.embed_dim, out_dim)
        init_linear_and_norm(self.head)
        if self.extra_layers is not None:
            init_linear_and_norm(self.extra_layers)
        if self.extra_proxy_tokens is not None:
            nn.init.trunc_normal_(self.extra_proxy_tokens, std=INIT_STD)

    def proxies(self, batch: int) -> torch.Tensor:
        """(B, n_p, D): CLS and the extra proxies, each plus the CLS position embedding."""
        tokens = self.encoder.cls_token
        if self.extra_proxy_tokens is not None:
            tokens = torch.cat([tokens, self.extra_proxy_tokens], dim=1)
        return (tokens + self.encoder.pos_embed[:, :1]).expand(batch, -1, -1)

    def token_sets(self, images: torch.Tensor, mask: torch.Tensor, num_masked: int
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(P (B, n_p, D), V (B, N_v, D), M (B, N_m, D), masked positions (B, N_m))``."""
        check_image_batch(images, self.arch.in_chans, self.arch.img_size)
        batch = images.shape[0]
        flat = flatten_token_mask(mask, batch, self.token_grid)
        visible_index, masked_index = split_by_mask(flat, num_masked)
        position = self.encoder.pos_embed[:, 1:]
        patches = self.encoder.patch_embed(images) + position
        mask_tokens = (self.encoder.mask_token + position).expand(batch, -1, -1)
        return self.proxies(batch), gather_tokens(patches, visible_index), gather_tokens(mask_tokens, masked_index), masked_index

    def forward(self, images: torch.Tensor, mask: torch.Tensor, *, num_masked: Optional[int] = None,
                detach_proxies: bool = False) -> MaskStreamOutput:
        """Predict the targets of the masked patches.

        Args:
            images: ImageNet-normalised float (B, C, H, W).
            mask: (B, g, g) or (B, N) 0/1 token mask, 1 = masked, the same count in every image.
            num_masked: N_m when known statically (keeps XLA from reading the mask back); default: counted.
            detach_proxies: cut the gradient where proxies enter the mask stream (a diagnostic: then nothing of
                the image can reach the predictions, which the tests check).

        Returns:
            ``MaskStreamOutput``: predictions (B, N_m, out_dim) and their positions (B, N_m).
        """
        if num_masked is None:
            counts = flatten_token_mask(mask, images.shape[0], self.token_grid).sum(dim=1)
            num_masked = int(counts[0])
            if not bool((counts == num_masked).all()):
                raise ValueError(f"SemanticMIM needs the same number of masked tokens in every image, got "
                                 f"{counts.tolist()}; use a mask strategy that masks a fixed count.")
        proxies, visible, masked, masked_index = self.token_sets(images, mask, num_masked)
        num_proxies = proxies.shape[1]
        if not self.use_bottleneck:
            joint = torch.cat([proxies, visible, masked], dim=1)
            for block in self.encoder.blocks:
                joint = block(joint)
            masked = joint[:, num_proxies + visible.shape[1]:]
        else:
            for block, extra in zip(self.encoder.blocks, self.extra_layers):
                encoded = block(torch.cat([proxies, visible], dim=1))
                proxies, visible = encoded[:, :num_proxies], encoded[:, num_proxies:]
                context = proxies.detach() if detach_proxies else proxies
                masked = cross_attention_block(extra, masked, torch.cat([context, masked], dim=1))
        return MaskStreamOutput(self.head(self.encoder.norm(masked)), masked_index)

