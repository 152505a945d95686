"""Back to viewable pixels: undo ImageNet normalisation, turn token masks into pixel masks, compose panels."""
from __future__ import annotations

from typing import Sequence

import torch

from kamim_lib.data.normalization import IMAGENET_MEAN, IMAGENET_STD


def unnormalize(x: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                clamp: bool = True) -> torch.Tensor:
    """x · std + mean per channel: ImageNet-normalised tensors (model inputs and outputs) back to [0, 1] pixels.

    Args:
        x: float (B, C, H, W) or (C, H, W), normalised.
        mean, std: per-channel statistics used for the normalisation (C values each).
        clamp: clip to [0, 1] (a decoder can predict outside the colour range; metrics with data_range=1 and
            display both assume [0, 1]).

    Returns:
        float tensor of x's shape.
    """
    if not isinstance(x, torch.Tensor) or x.ndim not in (3, 4):
        raise ValueError(f"x must be a float tensor (B, C, H, W) or (C, H, W), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}.")
    channels = x.shape[-3]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean and std need one value per channel ({channels}), got {len(mean)} and {len(std)}.")
    if any(s <= 0 for s in std):
        raise ValueError(f"std values must be > 0, got {tuple(std)}.")
    x = x.float() if not x.is_floating_point() else x
    shape = (channels, 1, 1)
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(shape)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(shape)
    pixels = x * std_t + mean_t
    return pixels.clamp(0, 1) if clamp else pixels


def pixel_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A token or pixel mask as a float (B, 1, H, W) 0/1 pixel mask.

    Args:
        mask: 1 = masked. Either a token mask (B, g, g) / (B, 1, g, g) on a grid that tiles the image evenly
            (upsampled nearest, each token covering H/g x W/g pixels), or a pixel mask (B, H, W) / (B, 1, H, W).
        height, width: image size H, W.

    Returns:
        float (B, 1, H, W) with values 0/1.
    """
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (3, 4) or (mask.ndim == 4 and mask.shape[1] != 1):
        raise ValueError(f"mask must be a token mask (B, g, g) or a pixel mask (B, H, W) / (B, 1, H, W), got "
                         f"{tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__}.")
    grid = mask if mask.ndim == 3 else mask[:, 0]
    rows, cols = grid.shape[-2:]
    if height % rows or width % cols or height // rows != width // cols:
        raise ValueError(f"mask grid {rows}x{cols} does not tile the {height}x{width} image evenly; give a token "
                         f"mask whose cells are square pixel blocks, or a pixel mask of size {height}x{width}.")
    scale = height // rows
    grid = (grid != 0).float()
    return grid.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1).unsqueeze(1)


def masked_input(images: torch.Tensor, mask: torch.Tensor, fill: float = 0.5) -> torch.Tensor:
    """The input as the model sees it, for display: masked pixels replaced by ``fill`` (grey by default).

    Args:
        images: float (B, C, H, W), un-normalised pixels.
        mask: token mask (B, g, g) or pixel mask (see ``pixel_mask``), 1 = masked.
        fill: value of masked pixels.

    Returns:
        float (B, C, H, W).
    """
    covered = pixel_mask(mask, *images.shape[-2:]).to(images.dtype)
    return images * (1 - covered) + fill * covered


def paste_visible(prediction: torch.Tensor, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Prediction inside the masked region, original pixels elsewhere (the usual MIM reconstruction panel).

    Args:
        prediction: float (B, C, H, W), un-normalised reconstruction.
        images: float (B, C, H, W), un-normalised input.
        mask: token mask (B, g, g) or pixel mask (see ``pixel_mask``), 1 = masked.

    Returns:
        float (B, C, H, W).
    """
    if prediction.shape != images.shape:
        raise ValueError(f"prediction and images must have the same shape, got {tuple(prediction.shape)} and "
                         f"{tuple(images.shape)}.")
    covered = pixel_mask(mask, *images.shape[-2:]).to(images.dtype)
    return prediction * covered + images * (1 - covered)
