"""ImageNet normalisation, done on the training device for pre-training batches (uint8 travels, float is made
where it is used: 4x less host-to-device traffic than float32)."""
from __future__ import annotations

import torch

from kamim_lib._validation import check_uint8_images

# Per-channel RGB mean and standard deviation of ImageNet-1K on the 0..1 scale (the torchvision/timm constants
# the original and SimMIM use).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _channel_constants(values, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)


def normalize_on_device(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """ImageNet-normalise a uint8 batch on whatever device it lives.

    Args:
        images: (B, 3, H, W) uint8 RGB (0..255).
        dtype: floating dtype of the result.

    Returns:
        (B, 3, H, W) ``dtype``: ``(images / 255 - IMAGENET_MEAN) / IMAGENET_STD`` per channel.
    """
    check_uint8_images(images)
    scaled = images.to(dtype) / 255.0
    return (scaled - _channel_constants(IMAGENET_MEAN, scaled)) / _channel_constants(IMAGENET_STD, scaled)


def unnormalize(images: torch.Tensor) -> torch.Tensor:
    """Undo the ImageNet normalisation: (B, 3, H, W) float -> (B, 3, H, W) float on the 0..1 scale, clamped."""
    if not torch.is_floating_point(images) or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be a float tensor (B, 3, H, W), got {images.dtype} {tuple(images.shape)}.")
    restored = images * _channel_constants(IMAGENET_STD, images) + _channel_constants(IMAGENET_MEAN, images)
    return restored.clamp(0.0, 1.0)
