"""XLA with one replica per core (or chip), started by ``torch_xla.launch``: the classic TPU data parallelism.

Each replica runs the whole training loop on its own device (``torch_xla.device()``) with its own shard of every
global batch, like DDP: ``rank`` is ``torch_xla.runtime.global_ordinal()``, ``world_size`` is
``torch_xla.runtime.world_size()``. What differs from the SPMD runtime (:mod:`.xla`):

- the model starts identical everywhere: :meth:`wrap_model` broadcasts replica 0's parameters and buffers
  (``xm.broadcast_master_param``). On TPU v2/v3 PJRT runs one *thread* per core inside each process, and threads
  building the model at the same time share torch's global generator, so their initial weights would differ;
- gradients are averaged by ``xm.reduce_gradients`` before the engine clips them and checks they are finite, then
  the optimiser steps. ``xm.optimizer_step(optimizer)`` is exactly these two calls; the engine needs the clip and
  the check in between (DDP gives it the same order: all-reduce in ``backward``, then clip, then step);
- metrics are averaged with ``xm.mesh_reduce`` (Python floats, off the graph), evaluation counts summed with
  ``xm.all_reduce``, rank states gathered with ``xm.mesh_reduce``, barriers are ``xm.rendezvous``;
- rank 0 writes the checkpoint (the engine's atomic ``save_checkpoint`` rather than ``xm.save``, which writes in
  place), everybody waits at the barrier that follows;
- each replica seeds python/numpy/torch and its XLA device generator with ``seed + rank``.

Testing here: multi-process XLA collectives hang on PJRT CPU with several devices, so CI runs this runtime with one
replica (``PJRT_DEVICE=CPU CPU_NUM_DEVICES=1`` under ``torch_xla.launch``): every code path runs, but no collective
ever has a second participant. Several replicas have only been reasoned about, not run.

Imports ``torch_xla`` when imported; the factory imports this module only for ``device="xla"``,
``xla_mode="multiprocess"``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch_xla.core.xla_model as xm
import torch_xla.runtime as xla_runtime

from kamim_lib.runtime.base import Runtime
from kamim_lib.runtime.xla import XLARuntime, _xla_device

_TAG = "kamim_lib."


class XLAMultiprocessRuntime(XLARuntime):
    """This replica of a ``torch_xla.launch`` job (outside one: a single replica on the default XLA device).

    Args:
        autocast_dtype: ``torch.bfloat16`` (the default under precision "auto") or None.
    """

    name = "xla-multiprocess"

    def __init__(self, autocast_dtype: torch.dtype | None):
        # Not XLARuntime.__init__: it inspects the device count for SPMD, which must stay off here.
        Runtime.__init__(self, _xla_device(), autocast_dtype)
        self.spmd, self.mesh = False, None
        self.rank = xla_runtime.global_ordinal()
        self.world_size = xla_runtime.world_size()
        self.local_rank = xla_runtime.local_ordinal()
        self._num_devices = self.world_size

    @property
    def num_replicas(self) -> int:
        return self.world_size

    def seed_everything(self, seed: int) -> None:
        Runtime.seed_everything(self, seed)  # python, numpy, torch: seed + rank
        xm.set_rng_state(seed + self.rank, str(self.device))  # dropout etc. on this replica's device

    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        xm.broadcast_master_param(model)
        return model

    def reduce_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        xm.reduce_gradients(optimizer)  # mean over replicas; a no-op with one

    def optimizer_step(self, optimizer: torch.optim.Optimizer, scaler=None) -> None:
        optimizer.step()  # gradients were all-reduced by reduce_gradients (see the module docstring)

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return xm.all_reduce(xm.REDUCE_SUM, tensor.detach().to(self.device)).to(tensor.device)

    def all_gather_object(self, obj: Any) -> list:
        return xm.mesh_reduce(_TAG + "all_gather_object", obj, list)

    def barrier(self) -> None:
        xm.rendezvous(_TAG + "barrier")

    def reduce_mean(self, values: dict[str, float]) -> dict[str, float]:
        if not values:
            return {}
        gathered = xm.mesh_reduce(_TAG + "reduce_mean", {key: float(value) for key, value in values.items()}, list)
        return {key: sum(item[key] for item in gathered) / len(gathered) for key in values}

    def describe(self) -> dict:
        info = super().describe()
        info.update({"xla_mode": "multiprocess", "rank": self.rank, "local_rank": self.local_rank})
        return info

