"""Input checks shared by the encoders (shape-only, so they cost nothing on XLA)."""
from __future__ import annotations

import torch


def check_image_batch(images: torch.Tensor, in_chans: int, img_size: int) -> None:
    """Raise ``ValueError`` unless ``images`` is a float tensor (B, in_chans, img_size, img_size)."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (
            in_chans, img_size, img_size):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor (B, {in_chans}, {img_size}, {img_size}) for this model, got "
                         f"{shape}; resize/crop to img_size or create the model with img_size=... .")
    if not images.is_floating_point():
        raise ValueError(f"images must be ImageNet-normalised floats, got dtype {images.dtype}.")
