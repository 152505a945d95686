"""Several processes, one device each, started by ``torchrun`` (DistributedDataParallel).

torchrun sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (and the rendezvous address); the backend is NCCL on
CUDA and gloo on CPU. Gradients are averaged by DDP during ``backward``; accumulation micro-batches skip that
all-reduce with ``no_sync``. Only rank 0 writes files; metrics are averaged over ranks.
"""
from __future__ import annotations

import os
import warnings
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from kamim_lib.runtime.base import Runtime

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


def torchrun_environment() -> dict[str, int] | None:
    """``{"rank", "local_rank", "world_size"}`` when launched by torchrun with more than one process, else None."""
    if not all(name in os.environ for name in TORCHRUN_VARIABLES):
        return None
    try:
        values = {name.lower(): int(os.environ[name]) for name in TORCHRUN_VARIABLES}
    except ValueError as error:
        raise ValueError(f"torchrun variables {TORCHRUN_VARIABLES} must be integers: {error}") from None
    return values if values["world_size"] > 1 else None


class DistributedRuntime(Runtime):
    """DDP over ``world_size`` processes: gloo on CPU, NCCL on CUDA (``cuda:LOCAL_RANK``).

    Args:
        device_type: "cpu" or "cuda".
        autocast_dtype: mixed-precision dtype or None.
        rank, local_rank, world_size: from torchrun (see :func:`torchrun_environment`).
        timeout_s: collective timeout.
    """

    def __init__(self, device_type: str, autocast_dtype: torch.dtype | None, *, rank: int, local_rank: int,
                 world_size: int, timeout_s: float = 1800.0):
        if device_type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError("device='cuda' under torchrun, but CUDA is not available; use device=cpu (gloo).")
            torch.cuda.set_device(local_rank)
            device = torch.device("cuda", local_rank)
        elif device_type == "cpu":
            device = torch.device("cpu")
        else:
            raise ValueError(f"torchrun supports device='cpu' or 'cuda', got {device_type!r}; XLA runs one "
                             "process that drives every core (SPMD), without torchrun.")
        super().__init__(device, autocast_dtype)
        self.rank, self.local_rank, self.world_size = rank, local_rank, world_size
        self.backend = "nccl" if device_type == "cuda" else "gloo"
        self.name = f"ddp-{device_type}"
        if not dist.is_initialized():
            dist.init_process_group(backend=self.backend, timeout=timedelta(seconds=timeout_s))
        if dist.get_world_size() != world_size or dist.get_rank() != rank:
            raise RuntimeError(f"process group (rank {dist.get_rank()} of {dist.get_world_size()}) disagrees with "
                               f"torchrun's RANK={rank}, WORLD_SIZE={world_size}")

    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        if not any(parameter.requires_grad for parameter in model.parameters()):
            return model  # nothing to synchronise (e.g. feature extraction)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        if self.backend == "nccl":
            # Batch statistics over the global batch (e.g. the probe's BatchNorm), as one process would compute.
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        # The decoder's 1x1 convolution weight (C, D, 1, 1) has size-1 dimensions whose strides are arbitrary, so
        # DDP's stride check warns about a layout that is in fact identical; nothing is slowed down.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def no_sync(self, model: torch.nn.Module):
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            return model.no_sync()
        return super().no_sync(model)

    @property
    def collective_device(self) -> torch.device:
        return self.device if self.backend == "nccl" else torch.device("cpu")

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        result = tensor.detach().to(self.collective_device).clone()
        dist.all_reduce(result, op=dist.ReduceOp.SUM)
        return result.to(tensor.device)

    def all_gather_object(self, obj: Any) -> list:
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered

    def barrier(self) -> None:
        if self.backend == "nccl":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def shutdown(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
