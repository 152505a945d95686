"""CIFAR-10 and CIFAR-100 through ``torchvision.datasets`` (the "python version" pickle batches).

Layout: ``<data_root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` and
``<data_root>/cifar-100-python/{train, test, meta}``; ``<data_root>`` may also be the batch folder itself.
torchvision verifies every file's md5 against the official archive before loading. ``download=True`` lets torchvision
fetch and extract the archive into ``<data_root>`` (needs internet). Split ``"val"`` is the official test set.
"""
from __future__ import annotations

from pathlib import Path

from torchvision import datasets

from kamim_lib.data.roots import HOW_TO_SET_ROOT, require_root

_CIFAR = {
    # name: (torchvision class, folder inside the root, number of classes)
    "cifar10": (datasets.CIFAR10, "cifar-10-batches-py", 10),
    "cifar100": (datasets.CIFAR100, "cifar-100-python", 100),
}


def cifar_layout(name: str) -> str:
    """Human-readable expected layout of ``name`` under the data root."""
    folder = _CIFAR[name][1]
    files = ("data_batch_1..5, test_batch, batches.meta" if name == "cifar10" else "train, test, meta")
    return f"<data_root>/{folder}/{{{files}}} (the CIFAR 'python version'; download=True fetches it)"


def build_cifar(name: str, *, root, split: str, transform, download: bool, on_corrupt: str):
    """Build ``cifar10`` or ``cifar100``; items are ``(transform(PIL RGB 32x32), int label)``.

    ``on_corrupt`` does not apply (the batches are checked by md5 as a whole).
    """
    del on_corrupt
    dataset_class, folder, num_classes = _CIFAR[name]
    layout = cifar_layout(name)
    root = require_root(name, root, layout=layout, must_exist=not download)
    if root.name == folder:  # the batch folder itself was given
        root = root.parent
    if not download and not (root / folder).is_dir():
        raise FileNotFoundError(f"dataset {name!r}: folder {root / folder} (absolute: {(root / folder).absolute()}) "
                                f"not found. Expected layout: {layout}. Pass download=True to fetch it, or "
                                f"{HOW_TO_SET_ROOT}.")
    try:
        dataset = dataset_class(str(root), train=split == "train", transform=transform, download=download)
    except RuntimeError as error:  # torchvision's "not found or corrupted" after its md5 check
        raise ValueError(f"dataset {name!r}: the files in {Path(root) / folder} failed torchvision's integrity "
                         f"(md5) check against the official archive ({error}). Re-extract the official archive "
                         "there, or pass download=True.") from error
    dataset.num_classes = num_classes
    return dataset
