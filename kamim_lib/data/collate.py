"""Batching of pre-training samples."""
from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import default_collate


def pretrain_collate(samples: Sequence[tuple[dict[str, torch.Tensor], int]]) -> dict[str, torch.Tensor]:
    """Stack ``(PretrainTransform output, label)`` items into one dict.

    Args:
        samples: B items as returned by a dataset built with ``transform=PretrainTransform(...)``.

    Returns:
        ``{"image": (B, 3, H, W) uint8, "mask": (B, g, g) int64, "weights": (B, h, w) float32, "label": (B,) int64}``
        (``mask`` and ``weights`` only when the transform produced them).
    """
    if not samples:
        raise ValueError("samples is empty: a batch needs at least one sample.")
    fields, labels = zip(*samples)
    if not all(isinstance(item, dict) for item in fields):
        raise ValueError("pretrain_collate expects (dict, label) items from PretrainTransform; got "
                         f"{type(fields[0]).__name__}. Use torch's default_collate for (tensor, label) items.")
    batch = default_collate(list(fields))
    batch["label"] = torch.as_tensor(labels, dtype=torch.int64)
    return batch
