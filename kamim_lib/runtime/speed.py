"""Speed switches that do not change what is trained: TF32 matmuls, fused AdamW, pinned memory and the loader's
worker settings. Each is a configuration key (``tf32``, ``fused_optimizer``, ``pin_memory``, ``prefetch_factor``,
``persistent_workers``); ``auto`` resolves here, once, from the device type.

Why ``auto`` means "on CUDA only":
- TF32 rounds fp32 matmul inputs to 10 mantissa bits on Ampere and later GPUs (about 8x the fp32 rate); under the
  default bf16 autocast it only touches the few fp32 matmuls left (the loss, the optimiser), and it does not exist
  on a CPU.
- fused AdamW runs the whole update in one kernel per parameter group on CUDA. On a CPU torch has a fused kernel
  too; ``auto`` leaves it off there (the default loop is the reference), but on many small tensors it is faster:
  13 % less compute per step for the smoke profile's 0.1 M-parameter ViT, which therefore sets ``on``
  (``results/benchmarks/train_step_fused_adamw_smoke.json``).
- pinned (page-locked) host memory is what makes ``tensor.to("cuda", non_blocking=True)`` asynchronous; on a CPU
  it is pointless.

``decode_on_device`` is the exception: its ``auto`` means off everywhere (measured slower on an H100, and not
pixel-faithful for 4:2:0 JPEGs; see :func:`decode_on_device_enabled`).
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator

import torch

from kamim_lib._validation import check_choice
from kamim_lib.runtime.choices import SWITCHES
from kamim_lib.keypoints.choices import DEVICE_DETECTORS



def resolve_switch(name: str, value: str, device_type: str) -> bool:
    """``"on"`` -> True, ``"off"`` -> False, ``"auto"`` -> whether ``device_type`` is ``"cuda"``.

    Raises:
        ValueError: ``value`` is not one of :data:`SWITCHES` (the message names ``name``).
    """
    check_choice(name, value, SWITCHES)
    if value == "auto":
        return device_type == "cuda"
    return value == "on"


@contextlib.contextmanager
def tf32_matmuls(enabled: bool) -> Iterator[None]:
    """Allow TF32 in CUDA matmuls and cuDNN convolutions inside the block; restore the previous settings after.

    A no-op on machines without CUDA kernels in use (the flags only affect CUDA)."""
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


def fused_optimizer_enabled(config, device_type: str) -> bool:
    """Whether AdamW runs fused for ``config.fused_optimizer`` on ``device_type`` (never on XLA: no fused kernel).

    ``"on"`` on XLA runs the plain AdamW with a warning rather than failing: the key only changes speed (the same
    steps within float rounding, not the run id), and a CPU-tuned configuration such as params/train/smoke.yaml
    should still run when a notebook's ``device="auto"`` lands on a Colab TPU.
    """
    if device_type == "xla":
        if config.fused_optimizer == "on":
            warnings.warn("fused_optimizer='on' has no XLA kernel: AdamW runs unfused on device='xla' (set "
                          "fused_optimizer='auto' to silence this).", stacklevel=2)
        return False
    return resolve_switch("fused_optimizer", config.fused_optimizer, device_type)


def loader_kwargs(config, device_type: str, *, persistent: bool = True) -> dict[str, Any]:
    """Keyword arguments of a ``torch.utils.data.DataLoader`` from the configuration's loader keys.

    Args:
        config: a TrainConfig (``num_workers``, ``pin_memory``, ``prefetch_factor``, ``persistent_workers``).
        device_type: where the batches go ("cpu", "cuda", "xla").
        persistent: whether this loader lives for many epochs (the training loader) and may keep its workers;
            evaluation loaders, built per evaluation, pass False.

    Returns:
        ``{"num_workers", "pin_memory", "persistent_workers", "prefetch_factor"}``; ``prefetch_factor`` (batches
        each worker loads ahead) and persistence only apply with workers, so they are None/False without.
    """
    workers = config.num_workers
    return {"num_workers": workers,
            "pin_memory": resolve_switch("pin_memory", config.pin_memory, device_type) and device_type == "cuda",
            "persistent_workers": bool(workers and persistent and config.persistent_workers),
            "prefetch_factor": (config.prefetch_factor or 2) if workers else None}


def describe_speed(config, device_type: str) -> dict[str, Any]:
    """The resolved speed settings of a run (for env.json and the benchmark's report)."""
    return {"tf32": resolve_switch("tf32", config.tf32, device_type),
            "fused_optimizer": fused_optimizer_enabled(config, device_type),
            "compile": bool(config.compile),
            **{key: value for key, value in loader_kwargs(config, device_type).items() if key != "num_workers"}}


def decode_on_device_enabled(value: str, device_type: str, *, file_based: bool, detector: str | None) -> bool:
    """Whether pre-training decodes JPEGs and crops on the device (``decode_on_device``).

    ``"on"`` is the explicit opt-in and says why it cannot work where it cannot; ``"off"`` (the default) and
    ``"auto"`` keep the CPU transform. ``auto`` resolves to off, unlike the other speed switches, because decoding
    on the GPU neither paid nor stayed faithful when measured (``results/benchmarks/device_suite.json``, one H100
    with 16 cores, ViT-B 192 px batch 256, 2026-11-27): the pipeline ran at 1506 img/s with decoding on the device
    vs 2158 with CPU decoding (the nvJPEG work slows the step, which already limits), and nvJPEG's decode of 4:2:0
    JPEGs (PIL's default, cameras, ImageNet) differs from libjpeg-turbo's by up to 51 grey levels (mean 0.67; 4:4:4
    files decode identically; ``benchmarks/jpeg_decode_agreement.py``).

    Args:
        value: the key's value.
        device_type: "cpu", "cuda" or "xla".
        file_based: whether the training set is a folder of image files.
        detector: the kamim detector, or None for simmim (the crops exist only on the device, so kamim weights must
            be computed there too).

    Raises:
        ValueError: ``"on"`` where it cannot work (XLA, a data set without files, SIFT/ORB weights).
    """
    check_choice("decode_on_device", value, SWITCHES)
    if value != "on":
        return False
    problems = []
    if device_type == "xla":
        problems.append("device='xla' has no JPEG decoder")
    if not file_based:
        problems.append("the data set is not a folder of image files (imagefolder, imagenet, imagenette)")
    if detector is not None and detector not in DEVICE_DETECTORS:
        problems.append(f"detector={detector!r} weights need the CPU crop (only {DEVICE_DETECTORS} run on "
                        "the device)")
    if problems:
        raise ValueError("decode_on_device='on' cannot work here: " + "; ".join(problems) +
                         ". Use decode_on_device='off'.")
    return True
