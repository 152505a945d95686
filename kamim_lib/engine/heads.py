"""Classifiers on a pretrained encoder: fine-tuning (whole network) and linear probing (frozen backbone).

Fine-tuning (SPEC §1.6): features = the encoder's final-LayerNorm output averaged over patch tokens (CLS dropped),
then one linear layer. When the encoder was pretrained without a final LayerNorm (``final_norm=False``), a fresh
LayerNorm is put before the pooling so the head still sees normalised features (Microsoft SimMIM's ``fc_norm``).

Linear probing: features = the output of block ``layer`` (1-based; no LayerNorm), pooled over patch tokens (or the
CLS token), optionally through a BatchNorm without affine parameters (MAE/SimMIM probes; off by default, as the
original), then one linear layer. The backbone is frozen and kept in eval mode.
"""
from __future__ import annotations

import torch
from torch import nn

from kamim_lib._validation import check_choice
from kamim_lib.config.schema import HEAD_INITS, POOLINGS

HEAD_INIT_STD = 0.01  # head_init="trunc_normal": small init as MAE/SimMIM fine-tuning (keeps early logits calm)


def pool_tokens(tokens: torch.Tensor, num_prefix_tokens: int, pooling: str) -> torch.Tensor:
    """(B, P + N, D) tokens -> (B, D): mean over the N patch tokens, or the first (CLS) token.

    Args:
        tokens: P prefix (CLS) tokens then N patch tokens.
        num_prefix_tokens: P (1 for ViT, 0 for Swin).
        pooling: "mean" or "cls".
    """
    check_choice("pooling", pooling, POOLINGS)
    if pooling == "cls":
        if num_prefix_tokens < 1:
            raise ValueError("pooling='cls' needs a CLS token; this encoder has none (use pooling='mean').")
        return tokens[:, 0]
    return tokens[:, num_prefix_tokens:].mean(dim=1)


def linear_head(in_features: int, num_classes: int, head_init: str = "pytorch") -> nn.Linear:
    """The classifier's ``nn.Linear(in_features, num_classes)``.

    Args:
        head_init: "pytorch" keeps nn.Linear's own initialisation (weights and bias uniform in
            ±1/sqrt(in_features); the original's heads); "trunc_normal" draws the weights from a truncated normal
            with std 0.01 and zeroes the bias (MAE/SimMIM).
    """
    check_choice("head_init", head_init, HEAD_INITS)
    head = nn.Linear(in_features, num_classes)
    if head_init == "trunc_normal":
        nn.init.trunc_normal_(head.weight, std=HEAD_INIT_STD)
        nn.init.zeros_(head.bias)
    return head


def encoder_depth(encoder: nn.Module) -> int:
    """Number of transformer blocks (ViT ``blocks``; Swin: all blocks of all stages)."""
    if hasattr(encoder, "blocks"):
        return len(encoder.blocks)
    if hasattr(encoder, "layers"):
        return sum(len(stage.blocks) for stage in encoder.layers)
    raise ValueError(f"cannot count the blocks of {type(encoder).__name__}")


def resolve_probe_layer(layer: int, depth: int) -> int:
    """1-based block index in [1, depth]; -1 means the last block."""
    resolved = depth if layer == -1 else layer
    if not 1 <= resolved <= depth:
        raise ValueError(f"probe_layer={layer} is out of range for an encoder with {depth} blocks; use 1..{depth} "
                         "or -1 for the last block (the original probes block 8 of ViT's 12, the last of Swin).")
    return resolved


class FinetuneClassifier(nn.Module):
    """``logits = head(pool(final_norm(encoder(images))))``.

    Args:
        encoder: a kamim encoder (``forward_features``, ``num_prefix_tokens``, ``num_features``, ``arch``).
        num_classes: K.
        pooling: "mean" (patch tokens; the original) or "cls".
        head_init: see :func:`linear_head` ("pytorch": the original).
    """

    def __init__(self, encoder: nn.Module, num_classes: int, *, pooling: str = "mean", head_init: str = "pytorch"):
        super().__init__()
        check_choice("pooling", pooling, POOLINGS)
        self.encoder = encoder
        self.pooling = pooling
        dim = encoder.num_features
        # The encoder's own final LayerNorm is inside forward_features when it has one.
        self.fc_norm = nn.Identity() if encoder.arch.final_norm else nn.LayerNorm(dim, eps=1e-6)
        self.head = linear_head(dim, num_classes, head_init)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised float -> (B, K) logits."""
        tokens = self.encoder.forward_features(images)
        return self.head(self.fc_norm(pool_tokens(tokens, self.encoder.num_prefix_tokens, self.pooling)))


class LinearProbe(nn.Module):
    """``logits = head(bn(pool(block_layer(images))))`` on a frozen encoder.

    Args:
        encoder: a kamim encoder (``forward_intermediates``); its parameters are frozen here.
        num_classes: K.
        layer: 1-based block whose output is probed, or -1 for the last (see :func:`resolve_probe_layer`).
        pooling: "mean" or "cls".
        batchnorm: put ``BatchNorm1d(D, affine=False)`` before the head.
        head_init: see :func:`linear_head` ("pytorch": the original).
    """

    def __init__(self, encoder: nn.Module, num_classes: int, *, layer: int = 8, pooling: str = "mean",
                 batchnorm: bool = False, head_init: str = "pytorch"):
        super().__init__()
        check_choice("pooling", pooling, POOLINGS)
        self.encoder = encoder.eval()
        self.encoder.requires_grad_(False)
        self.layer = resolve_probe_layer(layer, encoder_depth(encoder))
        self.pooling = pooling
        dim = self.features_dim()
        self.norm = nn.BatchNorm1d(dim, affine=False, eps=1e-6) if batchnorm else nn.Identity()
        self.head = linear_head(dim, num_classes, head_init)

    def features_dim(self) -> int:
        """Width of the probed block's tokens (ViT: D; Swin: the width of the stage holding the block)."""
        encoder = self.encoder
        if hasattr(encoder, "blocks"):
            return encoder.num_features
        remaining = self.layer
        for stage in encoder.layers:
            if remaining <= len(stage.blocks):
                return stage.blocks[0].norm1.normalized_shape[0]
            remaining -= len(stage.blocks)
        raise AssertionError("unreachable: the layer was range-checked")

    def train(self, mode: bool = True) -> "LinearProbe":
        super().train(mode)
        self.encoder.eval()  # frozen: no dropout/drop-path noise, even while the head trains
        return self

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, D) pooled block output (before the optional BatchNorm); no gradients."""
        encoder = self.encoder
        if hasattr(encoder, "blocks") and hasattr(encoder, "embed"):
            # ViT: run only the first `layer` blocks (hidden_states[layer] of forward_intermediates, cheaper).
            hidden = encoder.embed(images)
            for block in encoder.blocks[:self.layer]:
                hidden = block(hidden)
        else:
            hidden = encoder.forward_intermediates(images).hidden_states[self.layer]
        return pool_tokens(hidden, self.encoder.num_prefix_tokens, self.pooling)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised float -> (B, K) logits."""
        return self.head(self.norm(self.features(images).float()))
