"""``torch.compile`` of the model and of the on-device keypoint-weight function (keys ``compile`` and
``compile_keypoints``).

Both are compiled with static shapes (``dynamic=False``): the training step has a fixed batch (drop_last) and crop
size, so one graph serves every step. Only the module the loop *calls* is compiled; the loop keeps saving the
original module's ``state_dict`` (no ``_orig_mod.`` prefixes in checkpoints). XLA has its own compiler and refuses
the keys.
"""
from __future__ import annotations

from typing import Callable

import torch

#: torch.compile backend of the training path (inductor: Triton kernels on CUDA, C++/OpenMP on the CPU).
DEFAULT_BACKEND = "inductor"


def _check_device(device_type: str, key: str) -> None:
    if device_type == "xla":
        raise ValueError(f"{key}=true does not apply to device='xla' (XLA compiles the whole step itself); set "
                         f"{key}=false.")


def compile_model(model: torch.nn.Module, *, enabled: bool, device_type: str,
                  backend: str = DEFAULT_BACKEND) -> torch.nn.Module:
    """``torch.compile(model)`` when ``enabled``, else ``model`` itself.

    Args:
        model: the module the loop calls (after any DDP wrapping: DDP's bucketed all-reduce then overlaps the
            compiled backward).
        enabled: the ``compile`` key.
        device_type: "cpu", "cuda" or "xla" (XLA refuses).
        backend: torch.compile backend; "inductor" in training, the benchmark may pass another.
    """
    if not enabled:
        return model
    _check_device(device_type, "compile")
    return torch.compile(model, backend=backend, dynamic=False)


def compile_function(function: Callable, *, enabled: bool, device_type: str,
                     backend: str = DEFAULT_BACKEND) -> Callable:
    """``torch.compile(function)`` when ``enabled`` (the ``compile_keypoints`` key), else ``function``.

    For the keypoint weights: FAST's 16-step circle loop, the ring drawing and the density pooling fuse into a few
    kernels instead of a few hundred launches per batch; the result is the same (pixel maps are integer
    arithmetic; the weights' exp may differ in the last float bit)."""
    if not enabled:
        return function
    _check_device(device_type, "compile_keypoints")
    return torch.compile(function, backend=backend, dynamic=False)
