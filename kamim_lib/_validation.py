"""Argument checks shared by the library: each raises ``ValueError`` naming the offending argument."""
from __future__ import annotations

from typing import Iterable, Sequence

import torch


def check_choice(name: str, value, allowed: Iterable) -> None:
    """Raise if ``value`` is not one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; choose one of {', '.join(map(repr, allowed))}.")


def check_unique_list(name: str, values: Sequence) -> None:
    """Raise unless ``values`` is a non-empty list (or tuple; not a string) naming no value twice."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list, got {values!r}.")
    repeated = sorted({str(value) for value in values if list(values).count(value) > 1})
    if repeated:
        raise ValueError(f"{name} lists {', '.join(repeated)} more than once; give each value once.")


def check_choice_list(name: str, values: Sequence, allowed: Iterable) -> None:
    """Raise unless ``values`` is a non-empty list of distinct values, each one of ``allowed`` (the experiment
    grids' lists of methods, detectors, protocols, scorers, ...)."""
    check_unique_list(name, values)
    for value in values:
        check_choice(name, value, allowed)


def check_positive(name: str, value) -> None:
    """Raise if ``value`` is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        raise ValueError(f"{name} must be a number > 0, got {value!r}.")


def check_divisible(name: str, value: int, divisor_name: str, divisor: int) -> None:
    """Raise unless ``value % divisor == 0``."""
    if divisor <= 0 or value % divisor != 0:
        raise ValueError(f"{name}={value} must be divisible by {divisor_name}={divisor}.")


def check_uint8_images(images, name: str = "images") -> torch.Tensor:
    """Check a batch of RGB uint8 images.

    Args:
        images: tensor (B, 3, H, W), dtype uint8, channels in RGB order.

    Returns:
        The same tensor.
    """
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B, 3, H, W), got {type(images).__name__}.")
    if images.dtype != torch.uint8:
        raise ValueError(f"{name} must have dtype torch.uint8 (0..255 RGB), got {images.dtype}; "
                         "convert with (x * 255).round().clamp(0, 255).to(torch.uint8) if it is a float image in [0, 1].")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W) with 3 RGB channels, got {tuple(images.shape)}.")
    return images
