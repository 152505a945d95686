"""Measurements of frozen things (a checkpoint's held-out error, a baseline's top-1), kept on disk and keyed by what
they depend on, so that a notebook measuring a checkpoint another notebook already measured reads the number back.

Why: the evidence notebooks measure the same checkpoints (02 and 05/06 the held-out L1 of SimMIM and KAMIM, 03 and
05/06 their probe top-1) and the same baselines; each measurement is deterministic and costs seconds, and the default
reproduction has a 15-minute budget.

A key names every input of the measurement by content, never by path or time: the SHA-256 of the checkpoint file,
of the tensors measured on (the held-out images and masks, the labelled splits), of the data set's index
(:func:`kamim_lib.data.fingerprint.index_digest`) and the settings that shape the model or the classifier. A changed
input changes the key, so a stale value is never read back. The code is an input too: every key holds
:func:`measuring_code_digest`, the SHA-256 of the source of the modules that compute the measured numbers
(:data:`MEASURING_CODE`), so a change to that code measures again (issue 22: `--force` returned a held-out L1 computed
by older code). :data:`MEASUREMENT_VERSION` is part of every key as well, for a change the set does not cover.

Whenever a stored value is returned, one line on stderr says so, naming the file. ``kamim reproduce --force`` sets
:data:`REMEASURE_ENV` (a Unix time) for its notebooks: an entry measured before it is measured again and replaced, so
one forced reproduction measures each value once and its notebooks share it.

Entries are JSON files ``<name>-<key hash>.json`` (``{"name", "key", "value"}``) written atomically (a reader never
sees half a file); an unreadable entry, or one whose stored key differs, is measured again and overwritten.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import torch

#: Part of every key; raise it when a measurement's code changes its result.
MEASUREMENT_VERSION = 1
#: Where a configuration's measurements are kept, under its runs folder (``config.out_dir``; git-ignored).
CACHE_FOLDER = "measurements"
_HASH_CHARS = 24
#: Environment variable: a Unix time; entries measured before it are measured again (`kamim reproduce --force`).
REMEASURE_ENV = "KAMIM_REMEASURE_SINCE"

#: What computes the cached numbers, hashed into every key (:func:`measuring_code_digest`): a module (its file), a
#: package (every ``*.py`` under it) or ``module:function`` (that function's source only, where the module holds much
#: else). The set: the evidence modules that measure (held-out error, deciles, probes, baselines) and the held-out
#: images and masks they use; and the library code the numbers pass through: models and their loading, the probe
#: head, the data sets and transforms, the masks, keypoints and the keypoint density. Plotting, tables, the records
#: around the numbers and this cache's own code are left out (they do not change a measured value).
MEASURING_CODE = (
    "kamim_paper.evidence.checkpoint_measures",
    "kamim_paper.evidence.reconstruction",
    "kamim_paper.evidence.probing",
    "kamim_paper.evidence.weighting",
    "kamim_paper.experiments.analysis_inputs",
    "kamim_paper.results.summaries:to_uint8_pixels",
    "kamim_lib.models",
    "kamim_lib.engine.pretrained",
    "kamim_lib.engine.heads",
    "kamim_lib.engine.tasks",
    "kamim_lib.data",
    "kamim_lib.masking",
    "kamim_lib.keypoints",
    "kamim_lib.weighting",
    "kamim_lib.analysis.pixels",
)

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


_REPOSITORY = Path(__file__).resolve().parents[2]


def _source_path(module: str) -> Path:
    """The file (``x/y.py``) or package folder (``x/y/``) of a dotted module name of this repository; found on disk,
    nothing is imported."""
    base = _REPOSITORY.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base
    raise ValueError(f"MEASURING_CODE names {module!r}, which is neither {base}.py nor a package at {base}.")


def _function_source(path: Path, function: str) -> str:
    """The source of top-level ``def function`` in ``path`` (read with ``ast``)."""
    text = path.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            return ast.get_source_segment(text, node)
    raise ValueError(f"MEASURING_CODE names {function!r}, which {path} does not define.")


@functools.lru_cache(maxsize=None)
def _code_digest(entries: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for entry in entries:
        module, _, function = entry.partition(":")
        path = _source_path(module)
        if function:
            sources = [(entry, _function_source(path, function).encode())]
        elif path.is_dir():
            sources = [(f"{module}/{file.relative_to(path).as_posix()}", file.read_bytes())
                       for file in sorted(path.rglob("*.py"))]
        else:
            sources = [(module, path.read_bytes())]
        for name, source in sources:
            digest.update(f"{name}\n{len(source)}\n".encode())
            digest.update(source)
    return digest.hexdigest()[:_HASH_CHARS]


def measuring_code_digest() -> str:
    """SHA-256 (first 24 hex digits) of the source of :data:`MEASURING_CODE`, read once per process."""
    return _code_digest(tuple(MEASURING_CODE))


def remeasure_since() -> float | None:
    """The time set in :data:`REMEASURE_ENV` (None when unset or unreadable)."""
    try:
        return float(os.environ[REMEASURE_ENV])
    except (KeyError, ValueError):
        return None


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
        return {**key, "measurement_version": MEASUREMENT_VERSION, "measuring_code": measuring_code_digest()}

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
        since = remeasure_since()
        try:
            entry = json.loads(path.read_text())
            fresh = since is None or float(entry.get("measured_at", 0.0)) >= since
            if entry.get("name") == name and entry.get("key") == full_key and fresh:
                print(f"notice: {name}: reusing the cached measurement {path} (measured {_when(entry)}; delete the "
                      "file, or run `kamim reproduce --force`, to measure again)", file=sys.stderr)
                return entry["value"]
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            pass  # absent or unreadable: measure again
        value = measure()
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{name}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as stream:
                json.dump({"name": name, "key": full_key, "value": value, "measured_at": time.time()}, stream)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return json.loads(json.dumps(value))  # the same form a later read returns


def _when(entry: dict) -> str:
    moment = entry.get("measured_at")
    if not isinstance(moment, (int, float)):
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(moment))


def config_cache(config) -> MeasurementCache:
    """The cache of a training configuration's runs folder (``<config.out_dir>/measurements``)."""
    return MeasurementCache(Path(config.out_dir) / CACHE_FOLDER)
