"""XLA (TPU, or PJRT CPU for tests): one process drives every local device; several devices share each batch by
SPMD data parallelism (the batch dimension sharded over a 1-D "data" mesh axis).

This module imports ``torch_xla`` when it is imported, so nothing else imports it at module level: the factory
(:func:`kamim_lib.runtime.create_runtime`) does so only for ``device="xla"``. Why SPMD rather than one process per
core: it is the multi-core path that also runs on PJRT CPU (``PJRT_DEVICE=CPU CPU_NUM_DEVICES=4``), so CI can
exercise it; multi-process XLA collectives hang on PJRT CPU. The one-replica-per-core alternative is
:mod:`.xla_multiprocess` (``xla_mode="multiprocess"``).

Differences from CUDA that the engine relies on:
- batches are moved by ``MpDeviceLoader`` (host-to-device overlap) and sharded along the batch dimension;
- ``step_end`` cuts the lazy graph (``torch_xla.sync``) once per optimiser step; shapes are static (drop_last);
- ``cheap_sync`` is False: the engine reads the loss back only every ``log_every_steps`` steps;
- under SPMD the gradients of the global batch are already global, so the optimiser steps normally.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch

try:
    import torch_xla
    import torch_xla.core.xla_model as xm
    import torch_xla.distributed.parallel_loader as parallel_loader
    import torch_xla.runtime as xla_runtime
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("device='xla' needs torch_xla, which is not installed in this environment. Install the "
                      "pinned pair from requirements/xla-pair.txt (pip install -r requirements/xla-pair.txt) in "
                      "a separate environment, or use device=cpu/cuda.") from error

from kamim_lib.runtime.base import Runtime

DATA_AXIS = "data"


def _xla_device() -> torch.device:
    return torch_xla.device() if hasattr(torch_xla, "device") else xm.xla_device()


def _sync() -> None:
    if hasattr(torch_xla, "sync"):
        torch_xla.sync()
    else:  # torch_xla < 2.5
        xm.mark_step()


class XLARuntime(Runtime):
    """A single process on XLA devices.

    Args:
        autocast_dtype: ``torch.bfloat16`` (the default under precision "auto") or None.
        spmd: with more than one local device, shard every batch over all of them (SPMD); otherwise use one.
    """

    name = "xla"
    cheap_sync = False

    def __init__(self, autocast_dtype: torch.dtype | None, *, spmd: bool = True):
        num_devices = xla_runtime.global_runtime_device_count()
        self.spmd = bool(spmd and num_devices > 1)
        if self.spmd:
            # Must precede any XLA tensor creation in this process.
            xla_runtime.use_spmd()
        super().__init__(_xla_device(), autocast_dtype)
        self._num_devices = num_devices if self.spmd else 1
        self.mesh = None
        if self.spmd:
            import torch_xla.distributed.spmd as spmd_api

            self._spmd_api = spmd_api
            self.mesh = spmd_api.Mesh(np.arange(num_devices), (num_devices, 1), (DATA_AXIS, "model"))
            self.name = "xla-spmd"

    @property
    def num_replicas(self) -> int:
        return self._num_devices

    def wrap_loader(self, loader: Iterable) -> Iterable:
        return parallel_loader.MpDeviceLoader(loader, self.device)

    def _shard(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            if value.ndim >= 1:
                self._spmd_api.mark_sharding(value, self.mesh, (DATA_AXIS,) + (None,) * (value.ndim - 1))
            return value
        if isinstance(value, dict):
            return {key: self._shard(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._shard(item) for item in value)
        return value

    def to_device(self, batch: Any) -> Any:
        batch = super().to_device(batch)  # a no-op for tensors MpDeviceLoader already placed
        return self._shard(batch) if self.spmd else batch

    def autocast(self):
        if self.autocast_dtype is None:
            return super().autocast()
        return torch.autocast(device_type="xla", dtype=self.autocast_dtype)

    def optimizer_step(self, optimizer: torch.optim.Optimizer, scaler=None) -> None:
        # One process holds the whole (SPMD-sharded) model: gradients are already global.
        optimizer.step()

    def step_end(self) -> None:
        _sync()

    def seed_everything(self, seed: int) -> None:
        super().seed_everything(seed)
        xm.set_rng_state(seed)

    def to_cpu_state(self, state: Any) -> Any:
        _sync()
        return super().to_cpu_state(state)

    def describe(self) -> dict:
        info = super().describe()
        info.update({"xla_mode": "spmd", "xla_devices": self._num_devices, "spmd": self.spmd,
                     "xla_device_kind": str(xm.xla_device_hw(self.device))})
        return info
