"""A cheap fingerprint of the data a run trains on: where it is, how much there is, a hash of its index and one
of its contents.

The index hash covers what the data set already holds in memory: the relative file names and labels of folder
data sets, the arrays of in-memory sets (CIFAR, digits), or the parameters of generated ones (synthetic). For data
sets read from files, a second hash covers the contents cheaply: every file's size plus the bytes of a fixed,
evenly spaced sample of :data:`SAMPLED_FILES` files (ImageNet: 1.28 M ``stat`` calls and 32 reads). Other pictures
under the same names therefore change it, while a moved or copied folder keeps it. Two runs whose fingerprints
differ in ``length``, ``index_sha256`` or ``contents_sha256`` trained on different data.
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
# Files whose bytes the contents hash reads (evenly spaced over the index, first and last included).
SAMPLED_FILES = 32


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


def _entry_files(inner: Dataset) -> list[Path]:
    """The files of a data set read from files, in index order (empty for in-memory or generated sets).

    A data set names them with a ``file_paths()`` method, or holds ``samples`` / ``imgs`` entries whose first part
    is a path (torchvision's folder sets, :class:`~kamim_lib.data.folder.ImageFolderDataset`).
    """
    if callable(getattr(inner, "file_paths", None)):
        return [Path(path) for path in inner.file_paths()]
    for name in ("samples", "imgs"):
        entries = getattr(inner, name, None)
        if isinstance(entries, list) and entries and isinstance(entries[0], (tuple, list)) \
                and isinstance(entries[0][0], (str, os.PathLike)):
            return [Path(entry[0]) for entry in entries]
    return []


def contents_digest(dataset: Dataset) -> tuple[str, str] | None:
    """``(sha256 prefix, what it covers)`` of the file contents behind ``dataset``; None without files.

    Covers every file's size (in index order) and the full bytes of :data:`SAMPLED_FILES` evenly spaced files, so
    it changes when pictures under the same names are replaced and not when the folder is moved.

    Raises:
        FileNotFoundError: an indexed file vanished (naming it).
    """
    inner, _ = _unwrap(dataset)
    files = _entry_files(inner)
    if not files:
        return None
    digest = hashlib.sha256()
    try:
        for path in files:
            digest.update(f"{path.stat().st_size}\n".encode())
        count = min(SAMPLED_FILES, len(files))
        picks = sorted({round(i * (len(files) - 1) / max(count - 1, 1)) for i in range(count)})
        for index in picks:
            digest.update(files[index].read_bytes())
    except FileNotFoundError as error:
        raise FileNotFoundError(f"data file {error.filename!r} disappeared while the data were indexed; check the "
                                "data root (is another process changing it?)") from None
    return digest.hexdigest()[:HASH_CHARS], f"sizes of {len(files)} files, bytes of {len(picks)}"


def data_fingerprint(dataset: Dataset, *, name: str, root: str | os.PathLike | None, options: dict) -> dict:
    """The fingerprint stored with a run (``data.json``).

    Args:
        dataset: the training split as the run uses it (a ``Subset`` for ``max_train_samples``).
        name, root, options: the configuration's ``dataset``, ``data_root`` and ``dataset_options``.

    Returns:
        ``{"dataset", "root" (absolute, or None), "options", "length", "index_sha256", "index_covers"}``, plus
        ``"contents_sha256", "contents_covers"`` for data read from files.
    """
    digest, covered = index_digest(dataset)
    fingerprint = {"dataset": name, "root": str(Path(root).resolve()) if root else None, "options": dict(options),
                   "length": len(dataset), "index_sha256": digest, "index_covers": covered}
    contents = contents_digest(dataset)
    if contents is not None:
        fingerprint["contents_sha256"], fingerprint["contents_covers"] = contents
    return fingerprint


def same_data(first: dict, second: dict) -> bool:
    """True when two fingerprints describe the same data (possibly at different roots).

    The contents hash is compared when both have one (fingerprints written before it existed have none).
    """
    keys = ("dataset", "options", "length", "index_sha256")
    if "contents_sha256" in first and "contents_sha256" in second:
        keys += ("contents_sha256",)
    return all(first.get(key) == second.get(key) for key in keys)


def describe_fingerprint(fingerprint: dict) -> str:
    """``digits (embedded), 128 images, index 3f9c...`` for messages."""
    where = fingerprint.get("root") or "embedded"
    contents = f", contents {fingerprint['contents_sha256']}" if fingerprint.get("contents_sha256") else ""
    return (f"{fingerprint.get('dataset')} at {where}, {fingerprint.get('length')} images, index "
            f"{fingerprint.get('index_sha256')}{contents}")
