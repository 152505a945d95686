"""Resolve and check a dataset's data root; every failure says where it looked and how to point elsewhere."""
from __future__ import annotations

import os
from pathlib import Path

HOW_TO_SET_ROOT = ("pass root=... to build_dataset, set the `data_root` config key, or on the command line "
                   "add --set data_root=/path/to/data")


def require_root(dataset: str, root: str | os.PathLike | None, *, layout: str, must_exist: bool = True) -> Path:
    """Return ``root`` as a ``Path``, or raise a clear error when it is missing.

    Args:
        dataset: registry name, for the message.
        root: the data root given by the caller (never a built-in default path).
        layout: human-readable description of the expected layout under ``root``.
        must_exist: False when the caller may create it (``download=True``).

    Raises:
        ValueError: ``root`` is None.
        FileNotFoundError: ``root`` does not exist or is not a directory (when ``must_exist``).
    """
    if root is None:
        raise ValueError(f"dataset {dataset!r} needs a data root but root=None: {HOW_TO_SET_ROOT}. "
                         f"Expected layout: {layout}")
    path = Path(root).expanduser()
    if must_exist and not path.is_dir():
        raise FileNotFoundError(f"dataset {dataset!r}: the data root {path} (absolute: {path.absolute()}) does not "
                                f"exist or is not a directory. Expected layout: {layout}. To use another location, "
                                f"{HOW_TO_SET_ROOT}.")
    return path


def require_dir(dataset: str, path: Path, *, layout: str, what: str) -> Path:
    """Raise ``FileNotFoundError`` naming ``path`` (a sub-folder of the root) when it is not a directory."""
    if not path.is_dir():
        raise FileNotFoundError(f"dataset {dataset!r}: {what} {path} (absolute: {path.absolute()}) not found. "
                                f"Expected layout: {layout}. To use another location, {HOW_TO_SET_ROOT}.")
    return path
