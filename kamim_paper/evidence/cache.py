"""Measurements of frozen things (a checkpoint's held-out error, a baseline's top-1), kept on disk and keyed by what
they depend on, so that a notebook measuring a checkpoint another notebook already measured reads the number back.

Why: the evidence notebooks measure the same checkpoints (02 and 05/06 the held-out L1 of SimMIM and KAMIM, 03 and
05/06 their probe top-1) and the same baselines; each measurement is deterministic and costs seconds, and the default
reproduction has a 15-minute budget.

A key names every input of the measurement by content, never by path or time: the SHA-256 of the checkpoint file,
of the tensors measured on (the held-out images and masks, the labelled splits), of the data set's index
(:func:`kamim_lib.data.fingerprint.index_digest`) and the settings that shape the model or the classifier. A changed
input changes the key, so a stale value is never read back. :data:`MEASUREMENT_VERSION` is part of every key: raise
it when the code of a measurement changes what it returns.

Entries are JSON files ``<name>-<key hash>.json`` (``{"name", "key", "value"}``) written atomically (a reader never
sees half a file); an unreadable entry, or one whose stored key differs, is measured again and overwritten.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import torch

#: Part of every key; raise it when a measurement's code changes its result.
MEASUREMENT_VERSION = 1
#: Where a configuration's measurements are kept, under its runs folder (``config.out_dir``; git-ignored).
CACHE_FOLDER = "measurements"
_HASH_CHARS = 24

T = TypeVar("T")


def tensor_digest(*arrays) -> str:
    """SHA-256 of the dtype, shape and bytes of each tensor or array, in order."""
    digest = hashlib.sha256()
    for array in arrays:
        value = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
        value = np.ascontiguousarray(value)
        digest.update(f"{value.dtype.str}{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MeasurementCache:
    """Measured values on disk under ``directory`` (None: nothing is kept; every value is measured).

    Example::

        cache = MeasurementCache(Path(config.out_dir) / CACHE_FOLDER)
        top1 = cache.value("probe_top1", {"checkpoint": file_digest(path), ...}, lambda: measure(path))
    """

    def __init__(self, directory: str | Path | None):
        self.directory = None if directory is None else Path(directory)

    def path(self, name: str, key: dict) -> Path:
        """The file of entry ``(name, key)`` (key made JSON with sorted keys)."""
        if self.directory is None:
            raise ValueError("this cache keeps nothing (directory None).")
        text = json.dumps(self._full_key(key), sort_keys=True, separators=(",", ":"))
        return self.directory / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]}.json"

    @staticmethod
    def _full_key(key: dict) -> dict:
        return {**key, "measurement_version": MEASUREMENT_VERSION}

    def value(self, name: str, key: dict, measure: Callable[[], T]) -> T:
        """The stored value of ``(name, key)``, or ``measure()`` stored and returned.

        Args:
            name: what is measured (a file-name prefix, e.g. "probe_top1").
            key: JSON-able description of every input (content digests and settings).
            measure: computes the value (JSON-able: numbers, lists, dicts) when it is not stored.
        """
        if self.directory is None:
            return measure()
        path = self.path(name, key)
        full_key = json.loads(json.dumps(self._full_key(key)))  # as it reads back (tuples become lists)
        try:
            entry = json.loads(path.read_text())
            if entry.get("name") == name and entry.get("key") == full_key:
                return entry["value"]
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # absent or unreadable: measure again
        value = measure()
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as stream:
                json.dump({"name": name, "key": full_key, "value": value}, stream)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return json.loads(json.dumps(value))  # the same form a later read returns


def config_cache(config) -> MeasurementCache:
    """The cache of a training configuration's runs folder (``<config.out_dir>/measurements``)."""
    return MeasurementCache(Path(config.out_dir) / CACHE_FOLDER)
