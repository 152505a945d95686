"""The SimMIM decoder: one 1x1 convolution and a pixel shuffle (SPEC §1.5)."""
from __future__ import annotations

import torch
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
        # The 1x1 convolution is a matmul over the tokens, and the pixel shuffle a reordering of its output
        # channels (c, dy, dx): done directly, it gives the same output as shuffle(proj(map)) without the
        # convolution's layout copies, and takes half the time of those two modules (forward + backward, smoke
        # model on the CPU). The modules stay as the parameters' home (HF's decoder.0 / decoder.1).
        batch, stride, channels = tokens.shape[0], self.stride, self.proj.out_channels // self.stride ** 2
        weight = self.proj.weight.reshape(self.proj.out_channels, -1)
        pixels = torch.nn.functional.linear(tokens, weight, self.proj.bias)  # (B, grid², C·stride²)
        pixels = pixels.reshape(batch, grid, grid, channels, stride, stride).permute(0, 3, 1, 4, 2, 5)
        return pixels.reshape(batch, channels, grid * stride, grid * stride)
