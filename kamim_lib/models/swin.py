"""Swin encoder with a SimMIM mask token, built on timm's ``SwinTransformer`` with HF ``SwinModel`` numerics.

Layout differences from HF that only matter for weight mapping (handled in ``hf_convert``): timm fuses q/k/v,
and puts each patch merging at the start of the next stage where HF puts it at the end of the previous one.
Both concatenate the 2x2 neighbours in the same order, (0,0), (1,0), (0,1), (1,1) as (row, column) offsets;
``tests/test_models_hf_parity.py`` pins it. LayerNorm eps is 1e-5 everywhere, as HF's defaults.
"""
from __future__ import annotations

from functools import partial
from typing import Optional

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from timm.models.swin_transformer import SwinTransformer

from kamim_lib.models.architectures import HF_SWIN_LAYER_NORM_EPS, SwinArch
from kamim_lib.models.attention_probs import swin_attention_probs
from kamim_lib.models.inputs import check_image_batch
from kamim_lib.models.intermediates import EncoderIntermediates
from kamim_lib.models.mask_token import flatten_token_mask, replace_with_mask_token
from kamim_lib.models.weight_init import init_linear_and_norm


class MaskedSwinEncoder(SwinTransformer):
    """timm Swin whose masked patch embeddings (after the patch-embedding LayerNorm) become a mask token.

    Args:
        arch: the architecture (validated here).

    Attributes:
        arch: the ``SwinArch`` it was built from.
        mask_token: (1, 1, embed_dim) learned vector, zeros at init (as HF).
        num_prefix_tokens: 0 (no CLS token).
        token_grid: g, tokens per side of stage 1 (the mask grid).
        feature_grid: tokens per side of the last stage (g / 2^(stages-1)).
        num_features: width of the last stage.
    """

    def __init__(self, arch: SwinArch) -> None:
        arch.validate()
        super().__init__(
            img_size=arch.img_size, patch_size=arch.patch_size, in_chans=arch.in_chans, num_classes=0,
            global_pool="", embed_dim=arch.embed_dim, depths=arch.depths, num_heads=arch.num_heads,
            window_size=arch.window_size, mlp_ratio=arch.mlp_ratio, qkv_bias=True, drop_rate=0.0,
            proj_drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=arch.drop_path_rate,
            norm_layer=partial(nn.LayerNorm, eps=HF_SWIN_LAYER_NORM_EPS),
        )
        self.arch = arch
        self.num_prefix_tokens = 0
        self.token_grid = arch.token_grid
        self.feature_grid = arch.img_size // arch.encoder_stride
        self.mask_token = nn.Parameter(torch.zeros(1, 1, arch.embed_dim))
        if not arch.final_norm:
            self.norm = nn.Identity()
        self.init_weights_hf()

    def init_weights_hf(self) -> None:
        """HF Swin initialisation (see ``weight_init``): relative position bias tables and mask token at 0."""
        init_linear_and_norm(self)
        for name, parameter in self.named_parameters():
            if name.endswith("relative_position_bias_table"):
                nn.init.zeros_(parameter)
        nn.init.zeros_(self.mask_token)

    def embed(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Patch embedding (conv + LayerNorm), then the mask token.

        Args:
            images: ImageNet-normalised float (B, C, H, W) with H = W = img_size.
            mask: None, or (B, g, g) / (B, g·g), 1 = masked.

        Returns:
            (B, g, g, embed_dim) channels-last tokens.
        """
        check_image_batch(images, self.arch.in_chans, self.arch.img_size)
        tokens = self.patch_embed(images)
        if mask is not None:
            batch, height, width, channels = tokens.shape
            flat = flatten_token_mask(mask, batch, self.token_grid)
            tokens = replace_with_mask_token(tokens.reshape(batch, height * width, channels), flat, self.mask_token)
            tokens = tokens.reshape(batch, height, width, channels)
        return tokens

    def _run_block(self, stage: nn.Module, block: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        if stage.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, tokens, use_reentrant=False)
        return block(tokens)

    def forward_features(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Encoder output (B, N_last, D_last) in raster order; final LayerNorm applied when ``arch.final_norm``."""
        tokens = self.embed(images, mask)
        for stage in self.layers:
            tokens = stage.downsample(tokens)
            for block in stage.blocks:
                tokens = self._run_block(stage, block, tokens)
        return self.norm(tokens).flatten(1, 2)

    def forward_intermediates(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None,
                              return_attention: bool = False) -> EncoderIntermediates:
        """Every block's output (and optionally its window attention); see ``EncoderIntermediates``.

        Args:
            images: ImageNet-normalised float (B, C, H, W).
            mask: None, or (B, g, g) / (B, g·g), 1 = masked.
            return_attention: also return (B·nW, heads, w², w²) probabilities per block, recomputed beside
                the block so hidden states are identical either way.

        Returns:
            ``EncoderIntermediates`` with 1 + sum(depths) hidden states (B, N_s, D_s), each block's output
            taken before the next stage's patch merging.
        """
        tokens = self.embed(images, mask)
        hidden_states = [tokens.flatten(1, 2)]
        attentions = [] if return_attention else None
        for stage in self.layers:
            tokens = stage.downsample(tokens)
            for block in stage.blocks:
                if return_attention:
                    attentions.append(swin_attention_probs(block, tokens))
                tokens = block(tokens)
                hidden_states.append(tokens.flatten(1, 2))
        return EncoderIntermediates(hidden_states, attentions, self.norm(tokens).flatten(1, 2))

    def forward(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Same as ``forward_features``."""
        return self.forward_features(images, mask)
