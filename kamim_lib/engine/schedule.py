"""Learning-rate schedule: linear warm-up, then cosine decay, evaluated per OPTIMISER step.

    lr(s) = warmup_lr + (lr - warmup_lr) · s / W                              for s < W
    lr(s) = min_lr + (lr - min_lr) · ½ (1 + cos(π · min(1, (s - W) / (T - W))))  for s >= W

with s the number of optimiser steps already taken, W = warm-up steps and T = total steps. The original stepped
its scheduler with the micro-batch index inside each epoch (``epoch · steps_per_epoch + idx``), which under
gradient accumulation advances the LR ``accum`` times too fast within an epoch and jumps back at each epoch
start (a saw-tooth); here the counter is the optimiser step, so the curve is smooth whatever the accumulation.

Also unlike the original (timm's CosineLRScheduler without ``warmup_prefix``, ``t_initial`` = 100 epochs, over a
110-epoch loop), the cosine here starts at the end of the warm-up and ends at the last step, instead of starting at
step 0 underneath the warm-up and leaving the last 10 epochs flat at ``min_lr``.
"""
from __future__ import annotations

import math

import torch


def lr_at_step(step: int, *, base_lr: float, warmup_lr: float, min_lr: float, warmup_steps: int,
               total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) under the formula in the module docstring."""
    if step < warmup_steps:
        return warmup_lr + (base_lr - warmup_lr) * step / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupCosineSchedule:
    """Sets each parameter group's ``lr`` before every optimiser step.

    Usage per optimiser step: ``schedule.apply()`` (sets and returns the LR), ``optimizer.step()``,
    ``schedule.step()``. A group's ``lr_scale`` entry (default 1) multiplies its LR.

    Args:
        optimizer: the optimiser whose groups are driven.
        base_lr, warmup_lr, min_lr: see :func:`lr_at_step`.
        warmup_steps, total_steps: in optimiser steps.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, base_lr: float, warmup_lr: float, min_lr: float,
                 warmup_steps: int, total_steps: int):
        if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}) and "
                             "total_steps > 0.")
        self.optimizer = optimizer
        self.base_lr, self.warmup_lr, self.min_lr = base_lr, warmup_lr, min_lr
        self.warmup_steps, self.total_steps = warmup_steps, total_steps
        self.steps_taken = 0

    def current_lr(self) -> float:
        return lr_at_step(self.steps_taken, base_lr=self.base_lr, warmup_lr=self.warmup_lr, min_lr=self.min_lr,
                          warmup_steps=self.warmup_steps, total_steps=self.total_steps)

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
                "min_lr": self.min_lr, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}

    def load_state_dict(self, state: dict) -> None:
        """Restore the step counter; the schedule's shape must match the saved one (else the resume is wrong)."""
        mine = self.state_dict()
        different = [key for key in mine if key != "steps_taken" and state.get(key) != mine[key]]
        if different:
            raise ValueError("the checkpoint's LR schedule differs from this run's in "
                             + ", ".join(f"{key} ({state.get(key)} vs {mine[key]})" for key in different)
                             + "; resume with the same epochs, batch size and number of devices")
        self.steps_taken = int(state["steps_taken"])
