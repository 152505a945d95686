"""SimMIM's masking: exactly K = ceil(c²·r) random cells per image, drawn in the DataLoader workers (SPEC §1.1)."""
from __future__ import annotations

import torch

from kamim_lib.masking.base import MaskingStrategy
from kamim_lib.masking.registry import register_masking


@register_masking
class RandomCells(MaskingStrategy):
    """``masking=random``: uniform random cells, the original's (and SimMIM's) masks."""

    name = "random"

    def loader_mask(self) -> torch.Tensor:
        return self.geometry()
