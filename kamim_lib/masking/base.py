"""What a masking strategy is: where it draws its masks, and what it needs to draw them.

A strategy decides *which* tokens the encoder must reconstruct. It is either drawn per sample in the DataLoader
workers from nothing but the geometry (``on_device = False``: SimMIM's random cells), or per batch on the training
device from the batch and the model (``on_device = True``: attention- or keypoint-guided masks). The engine calls
the hooks below and never asks which strategy it runs.
"""
from __future__ import annotations

from typing import ClassVar

import torch

from kamim_lib.plugins import NoOptions, option_fields
from kamim_lib.plugins.lifecycle import TrainingHooks

from kamim_lib.masking.cells import RandomCellMask


class MaskingStrategy(TrainingHooks):
    """Base class of masking strategies (register subclasses with ``@register_masking``).

    Attributes:
        name: the value of the ``masking`` configuration key.
        Options: frozen dataclass of the strategy's own configuration keys (``param(...)`` fields).
        on_device: masks are drawn on the device by :meth:`device_mask` (else in workers by :meth:`loader_mask`).
        mode_key: the option that selects the strategy's variants (its ``choices`` enumerate them, e.g. AttMask's
            ``attmask_mode``: high, low, hint), or None; experiment grids ask it instead of repeating the names.
        needs_image_on_device: :meth:`device_mask` reads ``batch["image"]`` (always there; informative).

    Args:
        options: an instance of ``Options``.
        geometry: the mask geometry: input size, cell size s, model patch size p, ratio r (``num_masked`` cells of
            ``cells_per_side``² per image, ``scale`` = s/p tokens per cell side).
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    on_device: ClassVar[bool] = False
    mode_key: ClassVar[str | None] = None

    @classmethod
    def modes(cls) -> tuple[str, ...]:
        """The values of :attr:`mode_key` (``()`` for a strategy without variants)."""
        if cls.mode_key is None:
            return ()

        return tuple(option_fields(cls.Options)[cls.mode_key].metadata["choices"])

    def __init__(self, options, *, geometry: RandomCellMask):
        self.options = options
        self.geometry = geometry

    @classmethod
    def option_problems(cls, config) -> list[str]:
        """Cross-key problems of ``config`` for this strategy (reported with every other config problem)."""
        return []

    def loader_mask(self) -> torch.Tensor:
        """One token mask (g, g) int64, 1 = masked, drawn in a DataLoader worker (numpy's seeded global RNG)."""
        raise NotImplementedError(f"masking={self.name!r} draws its masks on the device")

    def device_mask(self, batch: dict, model: torch.nn.Module, runtime, *, seed: int, epoch: int) -> torch.Tensor:
        """Token masks (B, g, g) int64 on the batch's device, 1 = masked.

        Args:
            batch: the micro-batch on the device: ``"image"`` (B, 3, H, W) uint8 and the method's loader targets.
            model: the model being trained (possibly wrapped by DDP); strategies must not backpropagate into it.
            runtime: the :class:`~kamim_lib.runtime.Runtime` (``autocast()`` for a teacher forward).
            seed: this micro-batch's seed (a function of seed, rank, epoch and position: resume-exact).
            epoch: the 0-based epoch in progress (for warm-up rules).
        """
        raise NotImplementedError(f"masking={self.name!r} draws its masks in the loader")

    def describe(self) -> dict:
        """Plain-JSON facts for the run's config.json (e.g. masked cells per image)."""
        return {"masking": self.name, "masked_cells": self.geometry.num_masked,
                "cells_per_side": self.geometry.cells_per_side}
