"""A cheap fingerprint of the data a run trains on: where it is, how much there is, and a hash of its index.

The hash covers the index the data set already holds in memory, never the image bytes on disk: the relative file
names and labels of folder data sets (ImageNet's 1.28 M entries hash in about a second; nothing is stat'ed), the
arrays of in-memory sets (CIFAR, digits), or the parameters of generated ones (synthetic). Two runs whose
fingerprints differ in ``length`` or ``index_sha256`` trained on different data.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset, Subset

HASH_CHARS = 16
# Attributes holding a list of (file, label) or (category, file) entries, in the order of the data set.
_ENTRY_LISTS = ("samples", "imgs", "index")
# Attributes holding the data itself in memory (hashed as bytes) or the labels.
_ARRAYS = ("data", "images", "targets")
# Attributes that define a generated data set.
_PARAMETERS = ("num_samples", "image_size", "num_classes", "seed", "split_id")


def _unwrap(dataset: Dataset) -> tuple[Dataset, int | None]:
    """The innermost data set and the length of a leading ``Subset`` (None when the whole set is used)."""
    limit = None
    while True:
        if isinstance(dataset, Subset):
            limit = len(dataset) if limit is None else limit
            dataset = dataset.dataset
        elif "dataset" in vars(dataset):  # wrappers such as SkipCorruptImages
            dataset = vars(dataset)["dataset"]
        else:
            return dataset, limit


def _relative(entry, root: str) -> str:
    text = str(entry)
    return text[len(root):] if root and text.startswith(root) else text


def index_digest(dataset: Dataset) -> tuple[str, str]:
    """``(sha256 prefix, what it covers)`` for the index of ``dataset`` (see the module docstring)."""
    inner, _ = _unwrap(dataset)
    digest = hashlib.sha256(type(inner).__name__.encode())
    covered = []
    root = str(getattr(inner, "root", "") or "")
    root = root + os.sep if root and not root.endswith(os.sep) else root
    for name in _ENTRY_LISTS:
        entries = getattr(inner, name, None)
        if isinstance(entries, list) and entries:
            for entry in entries:
                parts = entry if isinstance(entry, (tuple, list)) else (entry,)
                digest.update(("\t".join(_relative(part, root) for part in parts) + "\n").encode())
            covered.append(f"{name} ({len(entries)} entries)")
            break
    for name in _ARRAYS:
        value = getattr(inner, name, None)
        if isinstance(value, (np.ndarray, list)) and len(value):
            array = np.ascontiguousarray(np.asarray(value))
            digest.update(f"{name}{array.shape}{array.dtype}".encode())
            digest.update(array.tobytes())
            covered.append(name)
    for name in _PARAMETERS:
        if hasattr(inner, name) and isinstance(getattr(inner, name), (int, float, str)):
            digest.update(f"{name}={getattr(inner, name)}".encode())
            covered.append(name)
    return digest.hexdigest()[:HASH_CHARS], ", ".join(covered) or "length only"


def data_fingerprint(dataset: Dataset, *, name: str, root: str | os.PathLike | None, options: dict) -> dict:
    """The fingerprint stored with a run (``data.json``).

    Args:
        dataset: the training split as the run uses it (a ``Subset`` for ``max_train_samples``).
        name, root, options: the configuration's ``dataset``, ``data_root`` and ``dataset_options``.

    Returns:
        ``{"dataset", "root" (absolute, or None), "options", "length", "index_sha256", "index_covers"}``.
    """
    digest, covered = index_digest(dataset)
    return {"dataset": name, "root": str(Path(root).resolve()) if root else None, "options": dict(options),
            "length": len(dataset), "index_sha256": digest, "index_covers": covered}


def same_data(first: dict, second: dict) -> bool:
    """True when two fingerprints describe the same data (possibly at different roots)."""
    keys = ("dataset", "options", "length", "index_sha256")
    return all(first.get(key) == second.get(key) for key in keys)


def describe_fingerprint(fingerprint: dict) -> str:
    """``digits (embedded), 128 images, index 3f9c...`` for messages."""
    where = fingerprint.get("root") or "embedded"
    return (f"{fingerprint.get('dataset')} at {where}, {fingerprint.get('length')} images, index "
            f"{fingerprint.get('index_sha256')}")
