"""Checkpoints: atomic writes, full resume state, strict loading, ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain containers only (so it loads without unpickling code)::

    {"format": "kamim-checkpoint", "version": 1,
     "section": "pretrain", "model_name": "vit_b", "config": {...plain JSON...},
     "model": state_dict, "optimizer": state_dict, "scheduler": {...}, "scaler": {...} or None,
     "progress": {"epoch": e, "batches_done": b, "optimizer_steps": s, "finished": bool, ...},
     "ranks": [per rank {"rng": {"python": ..., "numpy": ..., "torch": ByteTensor, "cuda": [...]},
                         "loss_sum": float}]}

``progress`` says where to continue: epoch ``e`` with its first ``b`` micro-batches already consumed (data order
and augmentation are functions of seed, epoch and position, so skipping them is exact), ``s`` optimiser steps done.
A finished run's checkpoint has ``"optimizer"``, ``"scheduler"`` and ``"scaler"`` None unless the run set
``keep_training_state`` (:func:`kamim_lib.engine.training_state.checkpoint_state` says why).
"""
from __future__ import annotations

import errno
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_FORMAT = "kamim-checkpoint"
CHECKPOINT_VERSION = 1
LAST_CHECKPOINT = "checkpoint-last.pt"
_MAX_LISTED_KEYS = 12


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here (missing, wrong model, missing/unexpected keys)."""


class CheckpointTooNewError(CheckpointError):
    """A checkpoint written by a newer torch or kamim than this one: upgrade, never delete it."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, permissions); the previous checkpoint is intact."""


def _write_failure(path: Path, error: BaseException) -> CheckpointWriteError:
    """A one-line reason for a failed checkpoint write, with what to do."""
    errno_value = getattr(error, "errno", None)
    text = str(error)
    if errno_value == errno.ENOSPC or "No space left" in text or "file write failed" in text:
        free = shutil.disk_usage(path.parent).free if path.parent.is_dir() else 0
        reason = f"no space left on the device ({free / 2**20:.0f} MiB free)"
        advice = "free some space, or set checkpoint_dir to a larger disk,"
        errno_value = errno.ENOSPC
    else:
        reason = getattr(error, "strerror", None) or text.splitlines()[0] if text else type(error).__name__
        advice = "check the folder (permissions, a read-only disk) or set checkpoint_dir elsewhere"
    previous = "the previous checkpoint is intact" if path.is_file() else "no earlier checkpoint exists"
    # A training run resumes from the intact checkpoint where it is and writes the next ones to the new
    # checkpoint_dir (kamim_lib.engine.run_dir.RunDirectory.resume_checkpoint_path).
    resumes = "; the run resumes from that checkpoint" if path.is_file() else ""
    return CheckpointWriteError(errno_value or errno.EIO,
                                f"cannot write checkpoint {str(path)!r}: {reason}; {previous}. To go on, {advice} "
                                f"and run the same command again{resumes}")


def _fsync_directory(directory: Path) -> None:
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def new_file_mode() -> int:
    """Permissions a plain ``open(path, "w")`` would give (0o666 minus the umask); mkstemp files start at 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, fsync, then ``os.replace``.

    A crash (even SIGKILL) during the write leaves the previous checkpoint intact; readers never see a partial
    file. Call it on one process only (rank 0).

    Args:
        state: tensors and plain containers (dict/list/tuple/str/int/float/bool/None) on the CPU.
        path: destination file; its folder is created.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise _write_failure(path, error) from None
    try:
        os.chmod(temporary, new_file_mode())
        with os.fdopen(handle, "wb") as stream:
            torch.save(state, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:  # torch reports a failed write as RuntimeError
        Path(temporary).unlink(missing_ok=True)
        raise _write_failure(path, error) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)`` (no code is unpickled).

    Raises:
        FileNotFoundError: no file at ``path`` (a directory: the message names the checkpoint inside a run).
        CheckpointTooNewError: written by a newer torch (file format) or kamim (checkpoint version).
        CheckpointError: the file is empty, not a torch file, truncated, holds pickled objects, or is not a
            kamim checkpoint (each said as such).
    """
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f"checkpoint {str(path)!r} is a directory; name the file, e.g. "
                                f"{str(path / 'checkpoints' / LAST_CHECKPOINT)!r} for a run directory")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: the file is empty (0 bytes; a copy or "
                              "download cut short)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # unpickling errors have many types across torch versions
        reason = describe_load_failure(error, path)
        kind = CheckpointTooNewError if reason.startswith(_NEWER_TORCH) else CheckpointError
        raise kind(f"cannot read checkpoint {str(path)!r}: {reason}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a kamim checkpoint (no format={CHECKPOINT_FORMAT!r} entry); "
                              "HF-format original checkpoints are imported through kamim_lib.models")
    if state.get("version", 0) > CHECKPOINT_VERSION:
        raise CheckpointTooNewError(f"{str(path)!r} has checkpoint version {state['version']}; this kamim reads up "
                                    f"to {CHECKPOINT_VERSION}: upgrade kamim to read it")
    return state


# How the reason for a file written by a newer torch starts (load_checkpoint picks the error type by it).
_NEWER_TORCH = "it was written by a newer torch"
# The first bytes of the files torch.save writes: a zip archive (torch >= 1.6) or a pickle (the legacy format).
_TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80")


def describe_load_failure(error: Exception, path: Path | None = None) -> str:
    """Why ``torch.load`` failed, in one sentence, without torch's advice to turn the safe loader off (a file that
    needs it can run arbitrary code when loaded): a newer torch's format (starts with "it was written by a newer
    torch"), not a torch file at all, pickled Python objects (contains "holds Python objects"), or truncated."""
    text = str(error)
    newer = re.search(r"PyTorch file with version (\d+), but the maximum supported version for reading is (\d+)",
                      text)
    if newer or "installation may be too old" in text:
        versions = f" (file format {newer.group(1)}; torch {torch.__version__} reads up to {newer.group(2)})" \
            if newer else ""
        return f"{_NEWER_TORCH}{versions}; upgrade torch to read it (the file itself is fine)"
    if path is not None and path.is_file():
        with open(path, "rb") as stream:
            start = stream.read(4)
        if not start.startswith(_TORCH_FILE_STARTS):
            return (f"it is not a file torch.save wrote (it starts with bytes {start.hex()}, neither a zip archive "
                    "nor a pickle)")
    if "Weights only load failed" in text or "Unsupported global" in text or "weights_only" in text:
        found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", text)
        holds = f" (it refers to {found.group(1)})" if found else ""
        return (f"it holds Python objects other than tensors and plain containers{holds}, which kamim never "
                "unpickles because loading them can run code; save a plain state dict instead")
    if isinstance(error, (RuntimeError, EOFError)) or "zip" in text or "archive" in text:
        first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        return f"the file is truncated or corrupt ({first[:200]})"
    return f"{type(error).__name__}: {text.strip().splitlines()[0][:200] if text.strip() else ''}"


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED_KEYS])
    return shown + (f", ... ({len(keys) - _MAX_LISTED_KEYS} more)" if len(keys) > _MAX_LISTED_KEYS else "")


def load_state_strict(module: torch.nn.Module, state_dict: dict[str, torch.Tensor], *, what: str = "model") -> None:
    """``module.load_state_dict(state_dict)`` that fails with a readable list of every mismatch.

    Raises:
        CheckpointError: naming the missing keys, unexpected keys and shape mismatches (each list truncated).
    """
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(f"{key} {tuple(state_dict[key].shape)} vs {tuple(expected[key].shape)}"
                        for key in set(expected) & set(state_dict)
                        if isinstance(state_dict[key], torch.Tensor) and state_dict[key].shape != expected[key].shape)
    problems = []
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches (checkpoint vs model): {_listed(mismatched)}")
    if problems:
        raise CheckpointError(f"{what} weights do not match the {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(state_dict, strict=True)


def check_model_name(state: dict, model_name: str, path: str | os.PathLike = "checkpoint") -> None:
    """Raise CheckpointError when ``state`` was saved from another model than ``model_name``."""
    saved = state.get("model_name")
    if saved != model_name:
        raise CheckpointError(f"{str(path)!r} holds weights of model={saved!r}, but this run builds "
                              f"model={model_name!r}; set model={saved!r} or use a matching checkpoint")


# --- random number generator states -----------------------------------------------------------------------------

def capture_rng_state() -> dict[str, Any]:
    """Python, numpy, torch CPU (and CUDA) generator states as tensors and plain containers."""
    numpy_state = np.random.get_state()
    state = {
        "python": list(random.getstate()[1]) + [random.getstate()[0], random.getstate()[2]],
        "numpy": {"keys": torch.from_numpy(numpy_state[1].astype(np.int64)), "pos": int(numpy_state[2]),
                  "has_gauss": int(numpy_state[3]), "cached_gaussian": float(numpy_state[4])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
    }
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    python = state["python"]
    random.setstate((python[-2], tuple(int(value) for value in python[:-2]), python[-1]))
    numpy_state = state["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
