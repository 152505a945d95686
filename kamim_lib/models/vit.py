"""ViT encoder with a SimMIM mask token, built on timm's ``VisionTransformer`` with HF ``ViTModel`` numerics.

HF details that matter for the original's checkpoints (SPEC §1.5): LayerNorm eps 1e-12, exact GELU, q/k/v with
bias (timm fuses them into one ``qkv`` Linear; ``hf_convert`` concatenates them), learned absolute position
embeddings including the CLS slot, no dropout, mask token initialised to zeros.
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from timm.layers import trunc_normal_
from timm.models.vision_transformer import VisionTransformer

from kamim_lib.models.architectures import ViTArch
from kamim_lib.models.attention_probs import vit_attention_probs
from kamim_lib.models.inputs import check_image_batch
from kamim_lib.models.intermediates import EncoderIntermediates
from kamim_lib.models.mask_token import flatten_token_mask, replace_with_mask_token
from kamim_lib.models.relative_position_bias import RelativePositionBias
from kamim_lib.models.token_gather import gather_tokens
from kamim_lib.models.weight_init import INIT_STD, init_linear_and_norm


class MaskedViTEncoder(VisionTransformer):
    """timm ViT whose masked patch embeddings are replaced by a learned mask token.

    Args:
        arch: the architecture (validated here).

    Attributes:
        arch: the ``ViTArch`` it was built from.
        mask_token: (1, 1, D) learned vector, zeros at init (as HF).
        relative_position_bias: None, or one ``RelativePositionBias`` per block when
            ``arch.relative_position_bias`` (PSS fine-tuning); then every block adds it to its attention logits.
        num_prefix_tokens: 1 (the CLS token, first in every token sequence).
        token_grid: g, tokens per side (the mask grid).
        feature_grid: tokens per side of the output (= token_grid).
        num_features: D.
    """

    def __init__(self, arch: ViTArch) -> None:
        arch.validate()
        super().__init__(
            img_size=arch.img_size, patch_size=arch.patch_size, in_chans=arch.in_chans, num_classes=0,
            global_pool="", embed_dim=arch.embed_dim, depth=arch.depth, num_heads=arch.num_heads,
            mlp_ratio=arch.mlp_ratio, qkv_bias=True, class_token=True, drop_path_rate=arch.drop_path_rate,
            norm_layer=partial(nn.LayerNorm, eps=arch.layer_norm_eps), act_layer=nn.GELU,
        )
        self.arch = arch
        self.token_grid = arch.token_grid
        self.feature_grid = arch.token_grid
        self.mask_token = nn.Parameter(torch.zeros(1, 1, arch.embed_dim))
        self.relative_position_bias = nn.ModuleList(
            RelativePositionBias(arch.token_grid, arch.num_heads) for _ in range(arch.depth)
        ) if arch.relative_position_bias else None
        if not arch.final_norm:
            self.norm = nn.Identity()
        self.init_weights_hf()

    def init_weights_hf(self) -> None:
        """HF ViT initialisation (see ``weight_init``)."""
        init_linear_and_norm(self)
        trunc_normal_(self.pos_embed, std=INIT_STD)
        trunc_normal_(self.cls_token, std=INIT_STD)
        nn.init.zeros_(self.mask_token)

    def embed(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Patch embedding, mask token, CLS, position embeddings.

        Args:
            images: ImageNet-normalised float (B, C, H, W) with H = W = img_size.
            mask: None, or (B, g, g) / (B, g·g), 1 = masked.

        Returns:
            (B, 1 + N, D) tokens, CLS first.
        """
        check_image_batch(images, self.arch.in_chans, self.arch.img_size)
        tokens = self.patch_embed(images)
        if mask is not None:
            # Before the position embeddings, as HF: a masked token still knows where it is.
            flat = flatten_token_mask(mask, images.shape[0], self.token_grid)
            tokens = replace_with_mask_token(tokens, flat, self.mask_token)
        tokens = self._pos_embed(tokens)
        return self.norm_pre(self.patch_drop(tokens))

    def attention_bias(self, block_index: int, keep_index: Optional[torch.Tensor] = None
                       ) -> Optional[torch.Tensor]:
        """The additive attention bias of block ``block_index``: None without relative position bias, else
        (1, heads, 1 + N, 1 + N), or (B, heads, K, K) for the kept positions ``keep_index`` (B, K)."""
        if self.relative_position_bias is None:
            return None
        return self.relative_position_bias[block_index](keep_index)

    def _run_block(self, block: nn.Module, tokens: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, tokens, attn_mask=bias, use_reentrant=False)
        return block(tokens, attn_mask=bias)

    def forward_tokens(self, tokens: torch.Tensor, keep_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Run the blocks and the final norm on embedded tokens, optionally on a subset of them (PSS).

        Args:
            tokens: (B, 1 + N, D) from ``embed``.
            keep_index: None, or (B, K) int64 positions to keep, in the order they are processed (CLS first
                for PSS); the relative position bias, if any, is gathered for them.

        Returns:
            (B, 1 + N, D), or (B, K, D) in the order of ``keep_index``.
        """
        if keep_index is not None:
            tokens = gather_tokens(tokens, keep_index)
        for index, block in enumerate(self.blocks):
            tokens = self._run_block(block, tokens, self.attention_bias(index, keep_index))
        return self.norm(tokens)

    def forward_features(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Encoder output (B, 1 + N, D): final LayerNorm applied when ``arch.final_norm``."""
        return self.forward_tokens(self.embed(images, mask))

    def forward_intermediates(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None,
                              return_attention: bool = False) -> EncoderIntermediates:
        """Every block's output (and optionally its attention probabilities); see ``EncoderIntermediates``.

        Args:
            images: ImageNet-normalised float (B, C, H, W).
            mask: None, or (B, g, g) / (B, g·g), 1 = masked.
            return_attention: also return (B, heads, 1 + N, 1 + N) probabilities per block. They are
                recomputed beside the block, so hidden states are identical either way.

        Returns:
            ``EncoderIntermediates`` with 1 + depth hidden states (B, 1 + N, D).
        """
        tokens = self.embed(images, mask)
        hidden_states = [tokens]
        attentions = [] if return_attention else None
        for index, block in enumerate(self.blocks):
            bias = self.attention_bias(index)
            if return_attention:
                attentions.append(vit_attention_probs(block, tokens, bias))
            tokens = block(tokens, attn_mask=bias)
            hidden_states.append(tokens)
        return EncoderIntermediates(hidden_states, attentions, self.norm(tokens))

    def forward(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Same as ``forward_features``."""
        return self.forward_features(images, mask)
