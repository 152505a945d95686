"""Learning-rate schedule: linear warm-up and a cosine, evaluated per OPTIMISER step, in two shapes.

With s the number of optimiser steps already taken, W the warm-up steps and T the total steps:

    warm-up (both shapes):      lr(s) = warmup_lr + (lr - warmup_lr) · s / W                          for s < W

    "original" (the default):   lr(s) = min_lr + (lr - min_lr) · ½ (1 + cos(π · s / C))               for W <= s < C
                                lr(s) = min_lr                                                         for s >= C
                                with C = T - W, the cosine's length;

    "warmup_then_cosine":       lr(s) = min_lr + (lr - min_lr) · ½ (1 + cos(π · min(1, (s - W) / (T - W))))  s >= W

"original" is timm's ``CosineLRScheduler(t_initial=C, warmup_t=W, warmup_lr_init=warmup_lr, lr_min=min_lr,
cycle_limit=1)`` without ``warmup_prefix``, as the original uses it: its ``t_initial`` is its ``EPOCHS`` (100) and
its loop runs ``EPOCHS + warmup_epochs`` (110) epochs, so the cosine starts at step 0 underneath the warm-up (at
the end of a 10-of-100-epoch warm-up the LR is already 0.976 × lr) and the last ``warmup_epochs`` epochs sit at
``min_lr``. In ``epochs``/``warmup_epochs`` terms: C = (epochs - warmup_epochs) epochs of steps.
"warmup_then_cosine" (an option) lets the cosine start at the end of the warm-up and end at the last step; the two
differ by up to 15 % of the peak LR around the middle of a 110-epoch run.

The step counter is the optimiser step in both shapes. The original's pretraining stepped its scheduler with the
micro-batch index inside each epoch (``epoch · steps_per_epoch + idx``), which under gradient accumulation advances
the LR ``accum`` times too fast within an epoch and jumps back at each epoch start (a saw-tooth); its fine-tuning
already counted optimiser steps. Here the counter is the optimiser step, so the curve is smooth whatever the
accumulation.
"""
from __future__ import annotations

import math

import torch

from kamim_lib._validation import check_choice
from kamim_lib.config.schema import LR_SCHEDULES


def lr_at_step(step: int, *, base_lr: float, warmup_lr: float, min_lr: float, warmup_steps: int,
               total_steps: int, shape: str = "original") -> float:
    """The learning rate of optimiser step ``step`` (0-based) under the formulas in the module docstring.

    Args:
        shape: "original" (the default) or "warmup_then_cosine".
    """
    check_choice("shape", shape, LR_SCHEDULES)
    if step < warmup_steps:
        return warmup_lr + (base_lr - warmup_lr) * step / warmup_steps
    if shape == "original":
        cosine_steps = total_steps - warmup_steps
        if step >= cosine_steps:
            return min_lr
        progress = step / cosine_steps
    else:
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupCosineSchedule:
    """Sets each parameter group's ``lr`` before every optimiser step.

    Usage per optimiser step: ``schedule.apply()`` (sets and returns the LR), ``optimizer.step()``,
    ``schedule.step()``. A group's ``lr_scale`` entry (default 1) multiplies its LR.

    Args:
        optimizer: the optimiser whose groups are driven.
        base_lr, warmup_lr, min_lr: see :func:`lr_at_step`.
        warmup_steps, total_steps: in optimiser steps.
        shape: "original" or "warmup_then_cosine" (config key ``lr_schedule``).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, base_lr: float, warmup_lr: float, min_lr: float,
                 warmup_steps: int, total_steps: int, shape: str = "original"):
        if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}) and "
                             "total_steps > 0.")
        check_choice("shape", shape, LR_SCHEDULES)
        self.optimizer = optimizer
        self.base_lr, self.warmup_lr, self.min_lr = base_lr, warmup_lr, min_lr
        self.warmup_steps, self.total_steps = warmup_steps, total_steps
        self.shape = shape
        self.steps_taken = 0

    def current_lr(self) -> float:
        return lr_at_step(self.steps_taken, base_lr=self.base_lr, warmup_lr=self.warmup_lr, min_lr=self.min_lr,
                          warmup_steps=self.warmup_steps, total_steps=self.total_steps, shape=self.shape)

    def apply(self) -> float:
        """Write the LR of the coming optimiser step into the groups and return it."""
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr

    def step(self) -> None:
        """Count one optimiser step taken."""
        self.steps_taken += 1

    def state_dict(self) -> dict:
        return {"steps_taken": self.steps_taken, "base_lr": self.base_lr, "warmup_lr": self.warmup_lr,
                "min_lr": self.min_lr, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps,
                "shape": self.shape}

    def load_state_dict(self, state: dict) -> None:
        """Restore the step counter; the schedule's shape must match the saved one (else the resume is wrong)."""
        mine = self.state_dict()
        different = [key for key in mine if key != "steps_taken" and state.get(key) != mine[key]]
        if different:
            raise ValueError("the checkpoint's LR schedule differs from this run's in "
                             + ", ".join(f"{key} ({state.get(key)} vs {mine[key]})" for key in different)
                             + "; resume with the same epochs, batch size and number of devices")
        self.steps_taken = int(state["steps_taken"])
