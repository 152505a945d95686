"""The training-lifecycle hooks the loop calls on a task (:mod:`kamim_lib.engine.tasks`) and on a masking strategy
(:mod:`kamim_lib.masking`): declared once here, so both offer the loop the same four calls."""
from __future__ import annotations

import torch


class TrainingHooks:
    """Hooks around the optimiser steps of one run; every default does nothing."""

    def attach(self, model: torch.nn.Module) -> None:
        """Called once with the unwrapped model on the device, before a checkpoint is restored (e.g. to build an
        EMA teacher)."""

    def after_optimizer_step(self, model: torch.nn.Module, step: int, total_steps: int) -> None:
        """Called after every optimiser step with the unwrapped model and the steps taken so far (e.g. an EMA
        teacher update, a schedule)."""

    def state_dict(self) -> dict:
        """Extra resumable state saved in every checkpoint (e.g. the EMA teacher's weights)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""
