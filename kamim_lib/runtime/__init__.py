"""Where training runs: CPU, one CUDA GPU, DDP under torchrun (gloo/NCCL) or XLA (imported lazily).

>>> from kamim_lib.runtime import create_runtime
>>> runtime = create_runtime("auto", "auto")   # xla + bf16 on a TPU runtime, cuda + bf16 with a GPU, else cpu + fp32
>>> runtime.device, runtime.world_size, runtime.is_main

XLA has two modes (``xla_mode``): SPMD (:mod:`.xla`, one process drives every core) and multi-process
(:mod:`.xla_multiprocess`, one replica per core started by ``torch_xla.launch``).

The engine calls only the methods of :class:`Runtime`; adding a backend means subclassing it.
"""
from kamim_lib.runtime.base import Runtime, move_to_device
from kamim_lib.runtime.detect import tpu_attached, xla_configured
from kamim_lib.runtime.distributed import DistributedRuntime, torchrun_environment
from kamim_lib.runtime.factory import (DEVICE_CHOICES, PRECISION_CHOICES, XLA_MODE_CHOICES, autocast_dtype_for,
                                       create_runtime, resolve_device_type)
from kamim_lib.runtime.speed import (decode_on_device_enabled, describe_speed, fused_optimizer_enabled,
                                     loader_kwargs, resolve_switch, tf32_matmuls)

__all__ = ["DEVICE_CHOICES", "DistributedRuntime", "PRECISION_CHOICES", "Runtime", "XLA_MODE_CHOICES",
           "autocast_dtype_for", "create_runtime", "decode_on_device_enabled", "describe_speed",
           "fused_optimizer_enabled", "loader_kwargs", "move_to_device", "resolve_device_type",
           "resolve_switch", "tf32_matmuls", "torchrun_environment", "tpu_attached", "xla_configured"]
