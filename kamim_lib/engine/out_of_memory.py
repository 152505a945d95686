"""Running out of memory during training: one line naming what to change, never a 70-line traceback.

The allocators report it in several shapes: ``torch.OutOfMemoryError`` (CUDA), a ``RuntimeError`` from the CPU
allocator ("DefaultCPUAllocator: can't allocate memory"), Python's ``MemoryError``, and a DataLoader worker killed
by the system's out-of-memory killer. Checkpoints are written atomically, so the last one is intact whatever step
the memory ran out in; the message says which one the same command resumes from.
"""
from __future__ import annotations

from pathlib import Path

import torch

# Fragments of the messages torch's allocators raise when an allocation fails (CPU and CUDA, several versions).
_ALLOCATOR_MESSAGES = ("out of memory", "can't allocate memory", "not enough memory", "cannot allocate memory")
_KILLED_WORKER = "killed by signal: killed"


class TrainingOutOfMemoryError(ValueError):
    """Training ran out of memory; a ``ValueError`` because the fix is in the configuration (exit code 2)."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure (or a loader worker killed by the out-of-memory killer)."""
    if isinstance(error, (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))):
        return True
    if not isinstance(error, RuntimeError):
        return False
    text = str(error).lower()
    return any(fragment in text for fragment in _ALLOCATOR_MESSAGES) or _KILLED_WORKER in text


def out_of_memory_error(error: BaseException, config, checkpoint: Path | None) -> TrainingOutOfMemoryError:
    """The one-line error for ``error`` in a run of ``config``; ``checkpoint``: the run's last one (or None)."""
    device = "GPU" if isinstance(error, getattr(torch, "OutOfMemoryError", ())) else "memory"
    if _KILLED_WORKER in str(error).lower():
        where = (f"a data-loader worker was killed (most likely out of memory); lower num_workers (now "
                 f"{config.num_workers}) or batch_size (now {config.batch_size})")
    else:
        where = (f"out of {device} in {config.section} of model={config.model} at batch_size={config.batch_size}, "
                 f"precision={config.precision}, img_size={config.img_size}; lower batch_size (keep "
                 "effective_batch_size to train the same schedule with more accumulation), use precision=bf16 on "
                 "a GPU, or a smaller model")
    kept = (f"the last checkpoint {checkpoint} is intact and the same command resumes from it"
            if checkpoint is not None and Path(checkpoint).is_file() else "no checkpoint had been saved yet")
    return TrainingOutOfMemoryError(f"{where}; {kept}")
