"""What a pretraining method is: its options, what it needs from the data loader, and its loss on the device.

The engine's pretraining task is generic (:class:`kamim_lib.engine.tasks.PretrainTask`): crop -> mask (when the
masking strategy draws it in the loader) -> :meth:`Method.loader_targets`; on the device: mask (when drawn there)
-> :meth:`Method.loss`. A new objective is one file in this package with a subclass registered by
``@register_method`` (and its test); nothing else in the library names it.
"""
from __future__ import annotations

from typing import ClassVar

import torch

from kamim_lib.plugins import NoOptions
from kamim_lib.models import create_model


class Method:
    """Base class of pretraining methods.

    Attributes:
        name: the value of the ``method`` configuration key.
        Options: frozen dataclass of the method's own configuration keys (``param(...)`` fields); a run id covers
            only the options of its own method and masking strategy.
        summary: one line for the README's catalogue and ``--help``.

    Args:
        options: an instance of ``Options``.
        img_size: the square crop side in pixels.
        patch_size: the encoder's patch size p (the token mask is (B, img_size/p, img_size/p)).
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    summary: ClassVar[str] = ""

    def __init__(self, options, *, img_size: int, patch_size: int):
        self.options = options
        self.img_size = img_size
        self.patch_size = patch_size

    @classmethod
    def option_problems(cls, config) -> list[str]:
        """Cross-key problems of ``config`` for this method (reported with every other config problem)."""
        return []

    @classmethod
    def non_finite_hint(cls, config) -> str | None:
        """The likeliest cause of a non-finite loss under ``config`` that is this method's own (added to the
        loop's message), or None."""
        return None

    def build_model(self, config) -> torch.nn.Module:
        """The network trained by this method (default: the registry model with the SimMIM decoder)."""
        return create_model(config.model, img_size=config.img_size, final_norm=config.final_norm)

    def crop_detector(self) -> str | None:
        """The keypoint detector this method runs on each crop, or None (decides whether the crops may exist on the
        training device only: ``decode_on_device`` needs a detector with a device backend)."""
        return None

    def prepare(self, config, runtime, *, crops_on_device: bool) -> None:
        """Called once the run's runtime is known, before any batch: e.g. decide where per-crop targets are made.

        Args:
            config: the pretraining configuration (generic keys such as ``compile_keypoints``).
            runtime: the :class:`~kamim_lib.runtime.Runtime`.
            crops_on_device: the crops are decoded on the device (``decode_on_device``): no worker sees them, so
                :meth:`loader_targets` is not called and targets must be made in :meth:`loss`.
        """

    def loader_targets(self, crop: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sample targets computed in the DataLoader workers from the augmented crop.

        Args:
            crop: (3, H, W) uint8 RGB, the crop the model sees.

        Returns:
            Extra batch entries (collated along a new first axis), e.g. ``{"weights": (h, w) float32}``.
        """
        return {}

    def loss(self, model: torch.nn.Module, batch: dict, runtime, *, seed: int) -> torch.Tensor:
        """The scalar loss of one micro-batch on the device (static shapes: usable under XLA).

        Args:
            model: the model being trained (possibly DDP-wrapped): ``model(images, mask)`` -> (B, 3, H, W).
            batch: ``"image"`` (B, 3, H, W) uint8, ``"mask"`` (B, g, g) int64 1 = masked, the loader targets.
            runtime: the :class:`~kamim_lib.runtime.Runtime` (``autocast()``, ``device``).
            seed: this micro-batch's seed, for any randomness of the loss (resume-exact).
        """
        raise NotImplementedError

    def describe(self) -> dict:
        """Plain-JSON facts for the run's config.json."""
        return {"method": self.name}
