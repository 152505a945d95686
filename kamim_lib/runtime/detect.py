"""What accelerator this machine offers, without importing torch_xla (it starts the XLA runtime when imported)."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# Set on Colab and Cloud TPU VMs (older and newer runtimes name it differently).
TPU_VARIABLES = ("COLAB_TPU_ADDR", "TPU_NAME", "TPU_ACCELERATOR_TYPE", "TPU_WORKER_ID", "TPU_SKIP_MDS_QUERY")


def tpu_attached(environ=os.environ, dev: Path = Path("/dev")) -> bool:
    """True on a Colab / Cloud TPU VM: a TPU environment variable, or TPU device files (``/dev/accel*``, v2–v4;
    ``/dev/vfio/[0-9]*``, v5e and newer)."""
    if any(environ.get(name) for name in TPU_VARIABLES):
        return True
    return bool(list(dev.glob("accel*")) or list(dev.glob("vfio/[0-9]*")))


def xla_configured(environ=os.environ, dev: Path = Path("/dev")) -> bool:
    """Whether ``device="auto"`` means XLA: torch_xla is installed and a PJRT device is there to use it on.

    That is a TPU attached (:func:`tpu_attached`), or ``PJRT_DEVICE`` set (any value: whoever sets it asks for
    XLA; ``PJRT_DEVICE=CPU`` is the CPU stand-in of the TPU runtime that CI's XLA tests use). torch_xla installed on
    a machine with neither (e.g. a GPU box that also has it) does not count.
    """
    if importlib.util.find_spec("torch_xla") is None:
        return False
    return bool(environ.get("PJRT_DEVICE")) or tpu_attached(environ, dev)
