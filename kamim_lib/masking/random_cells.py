"""SimMIM's masking: exactly K = ceil(c²·r) random cells per image, drawn in the DataLoader workers (SPEC §1.1)."""
from __future__ import annotations

import torch

from .base import MaskingStrategy
from .registry import register_masking


@register_masking
class RandomCells(MaskingStrategy):
    """``masking=random``: uniform random cells, the original's (and SimMIM's) masks."""

    name = "random"

    def loader_mask(self) -> torch.Tensor:
        return self.geometry()
