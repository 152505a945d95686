"""Seeded randomness for per-step draws on the training device (device masks, controls).

Draws are made on the CPU with a generator seeded from the micro-batch seed and then moved to the device: the
tensors are small (one value per cell or patch), the numbers are identical on CPU, CUDA and XLA, and XLA needs no
device generator.
"""
from __future__ import annotations

import torch


def seeded_uniform(shape: tuple[int, ...], seed: int, device: torch.device | str) -> torch.Tensor:
    """U[0, 1) float32 of ``shape`` from ``seed``, placed on ``device``."""
    generator = torch.Generator().manual_seed(int(seed) % (2**63))
    return torch.rand(shape, generator=generator).to(device)
