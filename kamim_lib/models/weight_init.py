"""HF-style initialisation, so a fresh model starts where the original's ``*ForMaskedImageModeling`` did.

HF ``ViTPreTrainedModel``/``SwinPreTrainedModel``: every Linear and Conv2d weight ~ trunc-normal(std 0.02),
biases 0, LayerNorm 1/0; ViT position embeddings and CLS ~ trunc-normal(0.02); the mask token 0; Swin's relative
position bias tables 0 (HF 4.38 never re-initialises them). Like HF (``nn.init.trunc_normal_`` defaults), timm's
``trunc_normal_`` cuts at ±2 in absolute value, so with std 0.02 it is N(0, 0.02²) in practice.
timm's defaults differ (kaiming-uniform patch embedding, CLS ~ N(0, 1e-6²), trunc-normal bias tables).
"""
from __future__ import annotations

from torch import nn
from timm.layers import trunc_normal_

INIT_STD = 0.02


def init_linear_and_norm(module: nn.Module) -> None:
    """Re-initialise every Linear/Conv2d (trunc-normal 0.02, zero bias) and LayerNorm (1, 0) inside ``module``."""
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Conv2d)):
            trunc_normal_(sub.weight, std=INIT_STD)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm) and sub.elementwise_affine:
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)
