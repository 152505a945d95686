"""The seams between the training loop and the hardware, for one process on a CPU or one CUDA device.

The engine only talks to a :class:`Runtime`: where tensors go, how the model is wrapped, how the optimiser steps,
how metrics are reduced across processes and who writes files. Subclasses change those few methods for DDP
(:mod:`.distributed`) and XLA (:mod:`.xla` for SPMD, :mod:`.xla_multiprocess` for one process per core; both
imported only when asked for).
"""
from __future__ import annotations

import contextlib
import os
import platform
import random
from typing import Any, Iterable

import numpy as np
import torch


def move_to_device(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Recursively move the tensors of a batch (tensor, dict, list or tuple) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {key: move_to_device(value, device, non_blocking) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(value, device, non_blocking) for value in batch)
    return batch


class Runtime:
    """One process driving one device (CPU or a single CUDA GPU).

    Attributes:
        name: "cpu", "cuda", "ddp-cpu", "ddp-cuda", "xla", "xla-spmd" or "xla-multiprocess".
        device: where the model and batches live.
        autocast_dtype: ``torch.bfloat16`` (or float16) for mixed precision, None for fp32.
        rank, world_size: this process among the training processes (0 and 1 here).
        num_replicas: data-parallel devices the global batch is split over (``world_size`` except under XLA SPMD,
            where one process drives every core).
        cheap_sync: whether reading a scalar back (``.item()``) per step is cheap. False on XLA, where it forces
            graph execution, so the engine checks the loss only every ``log_every_steps``.
    """

    name = "cpu"
    cheap_sync = True

    def __init__(self, device: torch.device | str = "cpu", autocast_dtype: torch.dtype | None = None):
        self.device = torch.device(device)
        self.autocast_dtype = autocast_dtype
        self.rank = 0
        self.world_size = 1
        self.local_rank = 0
        if self.device.type == "cuda":
            self.name = "cuda"

    # --- topology ---
    @property
    def is_main(self) -> bool:
        """The process that writes files and prints (rank 0)."""
        return self.rank == 0

    @property
    def num_replicas(self) -> int:
        return self.world_size

    @property
    def samples_per_process(self) -> int:
        """How many per-device micro-batches one process loads per step (1, or the cores it drives under SPMD)."""
        return self.num_replicas // self.world_size

    # --- seeding ---
    def seed_everything(self, seed: int) -> None:
        """Seed python, numpy and torch for this rank: ``seed + rank`` (ranks must not draw the same dropout)."""
        rank_seed = seed + self.rank
        random.seed(rank_seed)
        np.random.seed(rank_seed % 2**32)
        torch.manual_seed(rank_seed)

    def set_deterministic(self, enabled: bool) -> None:
        """Deterministic kernels when ``enabled`` (bit-exact reruns on the same hardware, at some speed cost);
        with False, the process-wide setting is left as it is."""
        if enabled:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False

    # --- model, data, precision ---
    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module the loop calls: the model itself here, DDP under torchrun."""
        return model

    def no_sync(self, model: torch.nn.Module):
        """Context for accumulation micro-batches that must not all-reduce gradients yet (DDP only)."""
        return contextlib.nullcontext()

    def wrap_loader(self, loader: Iterable) -> Iterable:
        """An iterable of batches ready for :meth:`to_device` (XLA wraps it in a parallel device loader)."""
        return loader

    def to_device(self, batch: Any) -> Any:
        return move_to_device(batch, self.device, non_blocking=self.device.type == "cuda")

    def autocast(self):
        """Mixed-precision context for the forward pass and loss (no-op in fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def make_grad_scaler(self):
        """A GradScaler for float16 autocast on CUDA, None otherwise (bf16 and fp32 need none)."""
        if self.autocast_dtype == torch.float16 and self.device.type == "cuda":
            if hasattr(torch.amp, "GradScaler"):
                return torch.amp.GradScaler("cuda")
            return torch.cuda.amp.GradScaler()  # torch < 2.3
        return None

    # --- stepping ---
    def reduce_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        """Make the gradients of ``optimizer``'s parameters global (the mean over replicas) before they are
        clipped, checked and applied. A no-op here and under DDP (which all-reduces during ``backward``) and XLA
        SPMD (one process holds the global gradients); XLA multi-process all-reduces here."""

    def optimizer_step(self, optimizer: torch.optim.Optimizer, scaler=None) -> None:
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()

    def step_end(self) -> None:
        """Called after every optimiser step (XLA: cut and run the lazy graph)."""

    # --- collectives ---
    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum of ``tensor`` over processes (a copy; the identity with one process)."""
        return tensor.clone()

    def all_gather_object(self, obj: Any) -> list:
        """``[obj of rank 0, obj of rank 1, ...]``."""
        return [obj]

    def barrier(self) -> None:
        """Wait for every process."""

    def reduce_mean(self, values: dict[str, float]) -> dict[str, float]:
        """Average of scalar metrics over processes (each process reports its own mean over equal-size shards)."""
        if self.world_size == 1 or not values:
            return dict(values)
        keys = sorted(values)
        totals = self.all_reduce_sum(torch.tensor([float(values[key]) for key in keys], dtype=torch.float64,
                                                  device=self.collective_device))
        return {key: float(total) / self.world_size for key, total in zip(keys, totals.tolist())}

    @property
    def collective_device(self) -> torch.device:
        """Device of tensors passed to collectives (CUDA for NCCL, CPU for gloo)."""
        return self.device

    # --- files ---
    def to_cpu_state(self, state: Any) -> Any:
        """A copy of a (nested) state with every tensor on the CPU, ready for ``torch.save``."""
        return move_to_device(state, torch.device("cpu"))

    def shutdown(self) -> None:
        """Release process groups and the like (the runtime is unusable afterwards)."""

    # --- reporting ---
    def describe(self) -> dict:
        """JSON-friendly facts about where the run executes (written to the run's env.json)."""
        info = {"runtime": self.name, "device": str(self.device), "world_size": self.world_size,
                "num_replicas": self.num_replicas,
                "autocast_dtype": str(self.autocast_dtype).replace("torch.", "") if self.autocast_dtype else None,
                "torch": torch.__version__, "python": platform.python_version(),
                "cpu_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
        if self.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(self.device)
        return info

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, device={self.device}, rank={self.rank}, "
                f"world_size={self.world_size}, autocast_dtype={self.autocast_dtype})")
