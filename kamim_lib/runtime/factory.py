"""Choosing the runtime from the ``device`` and ``precision`` configuration keys and the launch environment."""
from __future__ import annotations

import torch

from kamim_lib._validation import check_choice
# The device, precision and xla_mode keys' choices, under this package's public names (one list each).
from kamim_lib.runtime.choices import (DEVICES as DEVICE_CHOICES, PRECISIONS as PRECISION_CHOICES,
                                      XLA_MODES as XLA_MODE_CHOICES)
from kamim_lib.runtime.base import Runtime
from kamim_lib.runtime.detect import xla_configured
from kamim_lib.runtime.distributed import DistributedRuntime, torchrun_environment


def resolve_device_type(device: str, *, allow_xla: bool = True) -> str:
    """"auto" -> "xla" on a TPU runtime, else "cuda" when a GPU is visible, else "cpu"; other values are checked
    and returned.

    "xla" needs torch_xla installed and a PJRT device configured: a TPU attached, or ``PJRT_DEVICE`` set
    (:func:`kamim_lib.runtime.detect.xla_configured`; ``PJRT_DEVICE=CPU`` is CI's stand-in TPU runtime).
    ``allow_xla=False`` (code that does not run on XLA, e.g. the analyses) resolves "auto" to "cuda" or "cpu" only.
    """
    check_choice("device", device, DEVICE_CHOICES)
    if device == "auto":
        if allow_xla and xla_configured():
            return "xla"
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA GPU; use device='cpu' (or 'auto').")
    return device


def autocast_dtype_for(device_type: str, precision: str) -> torch.dtype | None:
    """bf16 autocast on CUDA/XLA under "auto", fp32 on CPU; "fp16" only on CUDA (with a GradScaler)."""
    check_choice("precision", precision, PRECISION_CHOICES)
    if precision == "auto":
        return torch.bfloat16 if device_type in ("cuda", "xla") else None
    if precision == "fp16" and device_type != "cuda":
        raise ValueError(f"precision='fp16' needs device='cuda' (got {device_type!r}); use bf16 or fp32.")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def create_runtime(device: str = "auto", precision: str = "auto", *, spmd: bool = True,
                   xla_mode: str = "spmd") -> Runtime:
    """The runtime for this process.

    - ``cpu`` / ``cuda``: one process, one device; under ``torchrun --nproc_per_node N`` (detected from RANK,
      LOCAL_RANK, WORLD_SIZE) a :class:`DistributedRuntime` (gloo on CPU, NCCL on ``cuda:LOCAL_RANK``).
    - ``xla`` with ``xla_mode="spmd"``: :class:`~kamim_lib.runtime.xla.XLARuntime`, one process driving every
      local XLA device (SPMD data parallelism when there are several and ``spmd`` is true).
    - ``xla`` with ``xla_mode="multiprocess"``:
      :class:`~kamim_lib.runtime.xla_multiprocess.XLAMultiprocessRuntime`, this replica of a job that
      ``torch_xla.launch`` started (:func:`kamim_lib.engine.fit` launches it); outside such a job, one replica.

    torch_xla is imported only for ``device="xla"``.

    Args:
        device: "auto", "cpu", "cuda" or "xla".
        precision: "auto", "fp32", "bf16" or "fp16".
        spmd: shard the batch over all local XLA devices (``xla_mode="spmd"`` only).
        xla_mode: "spmd" or "multiprocess" (XLA only).

    Raises:
        ValueError: an unknown choice, CUDA asked for but absent, or XLA under torchrun.
    """
    device_type = resolve_device_type(device)
    autocast_dtype = autocast_dtype_for(device_type, precision)
    check_choice("xla_mode", xla_mode, XLA_MODE_CHOICES)
    if device_type == "xla":
        if torchrun_environment() is not None:
            raise ValueError("device='xla' starts its own processes: xla_mode='spmd' runs one process that drives "
                             "every core, xla_mode='multiprocess' starts one per core with torch_xla.launch; do "
                             "not launch it with torchrun.")
        if xla_mode == "multiprocess":
            from kamim_lib.runtime.xla_multiprocess import XLAMultiprocessRuntime

            return XLAMultiprocessRuntime(autocast_dtype)
        from kamim_lib.runtime.xla import XLARuntime

        return XLARuntime(autocast_dtype, spmd=spmd)
    launch = torchrun_environment()
    if launch is not None:
        return DistributedRuntime(device_type, autocast_dtype, **launch)
    return Runtime(device_type if device_type == "cpu" else torch.device("cuda", torch.cuda.current_device()),
                   autocast_dtype)
