"""Colab runtime checks, called by every notebook's setup cell when it runs in Colab."""
from __future__ import annotations

import os
from pathlib import Path


def is_tpu_runtime(environ=os.environ) -> bool:
    """True on a Colab/Cloud TPU VM (TPU env vars or /dev/accel* devices)."""
    return bool(environ.get("COLAB_TPU_ADDR") or environ.get("TPU_NAME") or environ.get("TPU_ACCELERATOR_TYPE")
                or list(Path("/dev").glob("accel*")))


def _major_minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


def torch_xla_mismatch(torch_version: str, torch_xla_version: str | None) -> str | None:
    """Why this torch / torch_xla pair cannot work, or None when it matches.

    torch_xla releases pin the torch release of the same major.minor (torch_xla 2.9.x needs torch 2.9.x).
    """
    if torch_xla_version is None:
        return (f"torch_xla is not installed. Install the pair that matches: pip install "
                f"'torch~={_major_minor(torch_version)}.0' 'torch_xla[tpu]~={_major_minor(torch_version)}.0' "
                "(or, for the newest torch_xla: pip install torch==2.9.0 'torch_xla[tpu]==2.9.0'), then restart "
                "the runtime.")
    if _major_minor(torch_version) != _major_minor(torch_xla_version):
        return (f"torch {torch_version} does not match torch_xla {torch_xla_version}: torch_xla needs the torch "
                f"release with the same major.minor. Run: pip install 'torch=={_major_minor(torch_xla_version)}.*' "
                f"(or pip install torch==2.9.0 'torch_xla[tpu]==2.9.0'), then restart the runtime.")
    return None


def check_colab_runtime() -> str:
    """Describe the runtime; on a TPU runtime raise RuntimeError with the fix when torch and torch_xla differ."""
    import importlib.metadata

    import torch

    if not is_tpu_runtime():
        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
        return f"Colab runtime: {device}, torch {torch.__version__}"
    try:
        xla_version = importlib.metadata.version("torch_xla")
    except importlib.metadata.PackageNotFoundError:
        xla_version = None
    problem = torch_xla_mismatch(torch.__version__, xla_version)
    if problem:
        raise RuntimeError(problem)
    return f"Colab TPU runtime: torch {torch.__version__}, torch_xla {xla_version}; use device='xla'"
