"""The SimMIM decoder: one 1x1 convolution and a pixel shuffle (SPEC §1.5)."""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn


class SimMIMDecoder(nn.Module):
    """Predict every pixel from the final patch tokens: Conv2d(D → stride²·C, 1x1), PixelShuffle(stride).

    Args:
        in_dim: token width D of the encoder output.
        stride: pixels per final token side (16 for ViT/16, 32 for Swin/4 with four stages).
        out_chans: image channels C to predict.

    Attributes:
        proj: the 1x1 convolution (HF's ``decoder.0``).
        shuffle: the pixel shuffle (HF's ``decoder.1``).
    """

    def __init__(self, *, in_dim: int, stride: int, out_chans: int = 3) -> None:
        super().__init__()
        self.stride = stride
        self.proj = nn.Conv2d(in_dim, stride ** 2 * out_chans, kernel_size=1)
        self.shuffle = nn.PixelShuffle(stride)

    def forward(self, tokens: torch.Tensor, grid: int) -> torch.Tensor:
        """Decode patch tokens (no CLS) to an image.

        Args:
            tokens: (B, grid², D) in raster order.
            grid: tokens per side.

        Returns:
            (B, C, grid·stride, grid·stride), the same dtype as ``tokens``.
        """
        feature_map = rearrange(tokens, "b (h w) d -> b d h w", h=grid, w=grid)
        return self.shuffle(self.proj(feature_map))
