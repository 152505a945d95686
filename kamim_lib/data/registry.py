"""Dataset registry: one name per data set, one call to build it.

>>> from kamim_lib.data import build_dataset, list_datasets, dataset_num_classes
>>> train = build_dataset("digits", split="train")            # embedded, no root, no download
>>> image, label = train[0]                                     # PIL RGB 32x32, int
>>> val = build_dataset("imagenet", root="/data/imagenet", split="val", transform=eval_transform)

Every data set has the splits ``"train"`` and ``"val"``. Items are ``(transform(image), label)``: ``image`` a PIL RGB
image, ``label`` an int in ``0..num_classes-1``; with ``transform=None`` the PIL image itself. Data is only read from
the ``root`` argument (the ``data_root`` config key); nothing is downloaded unless ``download=True``.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from functools import partial
from typing import Callable

from torch.utils.data import Dataset

from kamim_lib._validation import check_choice
from kamim_lib.data.cifar import build_cifar, cifar_layout
from kamim_lib.data.corrupt import ON_CORRUPT_CHOICES
from kamim_lib.data.digits import DIGITS_NUM_CLASSES, build_digits
from kamim_lib.data.folder import (FOLDER_LAYOUT, IMAGENET_LAYOUT, IMAGENETTE_LAYOUT, build_imagefolder,
                                   build_imagenet, build_imagenette, count_folder_classes)
from kamim_lib.data.inaturalist import INATURALIST_LAYOUT, build_inaturalist, inaturalist_num_classes
from kamim_lib.data.photo_crops import PHOTO_NAMES, build_photo_crops
from kamim_lib.data.places365 import PLACES365_LAYOUT, PLACES365_NUM_CLASSES, build_places365
from kamim_lib.data.synthetic import build_synthetic
from kamim_lib.data.textured_digits import build_textured_digits

SPLITS = ("train", "val")


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry.

    Attributes:
        builder: ``builder(*, root, split, transform, download, on_corrupt, **kwargs) -> Dataset``.
        num_classes: the class count, or a callable ``(root, **kwargs) -> int`` when it depends on the data.
        layout: the expected layout under the data root ("" for sets that need no root).
        description: one line for listings.
    """

    builder: Callable[..., Dataset]
    num_classes: int | Callable[..., int]
    layout: str
    description: str


def _synthetic_num_classes(root=None, num_classes: int = 10, **_) -> int:
    return num_classes


def _imagefolder_num_classes(root=None, **_) -> int:
    return count_folder_classes(root)


def _inaturalist_num_classes(root=None, train_version: str = "2021_train", **_) -> int:
    return inaturalist_num_classes(train_version)


_REGISTRY: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(build_digits, DIGITS_NUM_CLASSES, "",
                          "scikit-learn's 1797 handwritten digits (8x8 -> 32x32 RGB), embedded; option image_size"),
    "textured_digits": DatasetInfo(build_textured_digits, DIGITS_NUM_CLASSES, "",
                                   "the digits composited onto scikit-image texture photos (96x96 RGB), embedded; "
                                   "options image_size, seed"),
    "photo_crops": DatasetInfo(build_photo_crops, len(PHOTO_NAMES), "",
                               "windows of 10 photos bundled with scikit-image/scikit-learn, labelled by photo "
                               "(96x96 RGB), embedded; options image_size, seed"),
    "synthetic": DatasetInfo(build_synthetic, _synthetic_num_classes, "",
                             "deterministic random images; options num_samples, image_size, num_classes, seed"),
    "cifar10": DatasetInfo(partial(build_cifar, "cifar10"), 10, cifar_layout("cifar10"), "CIFAR-10 (torchvision)"),
    "cifar100": DatasetInfo(partial(build_cifar, "cifar100"), 100, cifar_layout("cifar100"),
                            "CIFAR-100 fine labels (torchvision)"),
    "imagefolder": DatasetInfo(build_imagefolder, _imagefolder_num_classes, FOLDER_LAYOUT,
                               "any class-per-folder data set with train/ and val/"),
    "imagenet": DatasetInfo(build_imagenet, 1000, IMAGENET_LAYOUT, "ImageNet-1K in class folders"),
    "imagenette": DatasetInfo(build_imagenette, 10, IMAGENETTE_LAYOUT, "Imagenette (10 ImageNet classes)"),
    "inaturalist": DatasetInfo(build_inaturalist, _inaturalist_num_classes, INATURALIST_LAYOUT,
                               "iNaturalist species (torchvision); options train_version, val_version"),
    "places365": DatasetInfo(build_places365, PLACES365_NUM_CLASSES, PLACES365_LAYOUT,
                             "Places365 (torchvision); options small, challenge"),
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`build_dataset`, sorted."""
    return sorted(_REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name`` (raises ``ValueError`` listing the known names)."""
    check_choice("dataset", name, list_datasets())
    return _REGISTRY[name]


def register_dataset(name: str, info: DatasetInfo, *, overwrite: bool = False) -> None:
    """Add a data set under ``name`` (for users' own data sets); refuses to replace one unless ``overwrite``."""
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"dataset name {name!r} is already registered; pass overwrite=True to replace it.")
    _REGISTRY[name] = info


def dataset_num_classes(name: str, root: str | os.PathLike | None = None, **kwargs) -> int:
    """Number of classes of a data set.

    Args:
        name: a registry name.
        root: needed only where the count depends on the data (``imagefolder`` counts the class folders).
        **kwargs: the same data-set options as :func:`build_dataset` (``num_classes`` for ``synthetic``,
            ``train_version`` for ``inaturalist``).
    """
    count = dataset_info(name).num_classes
    return count if isinstance(count, int) else int(count(root, **kwargs))


def build_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train",
                  transform: Callable | None = None, download: bool = False, on_corrupt: str = "skip",
                  **kwargs) -> Dataset:
    """Build a data set by name.

    Args:
        name: one of :func:`list_datasets`: ``digits``, ``textured_digits`` and ``photo_crops`` (embedded),
            ``synthetic``, ``cifar10``,
            ``cifar100``, ``imagefolder``, ``imagenet``, ``imagenette``, ``inaturalist``, ``places365``.
        root: the data root (the ``data_root`` config key); unused by ``digits`` and ``synthetic``. Never defaulted
            to a built-in path: a missing root raises ``ValueError``, a root that does not exist
            ``FileNotFoundError``; both say where it looked and the expected layout.
        split: ``"train"`` or ``"val"`` (for CIFAR, ``"val"`` is the official test set).
        transform: callable applied to each PIL RGB image (e.g. :class:`~kamim_lib.data.PretrainTransform`);
            None yields PIL images.
        download: let torchvision download the set into ``root`` (CIFAR, iNaturalist, Places365 only).
        on_corrupt: for file-based sets (folders, iNaturalist, Places365): ``"skip"`` substitutes the next readable
            sample and warns once per file, ``"error"`` raises :class:`~kamim_lib.data.CorruptImageError` naming
            the file. See :mod:`kamim_lib.data.corrupt`.
        **kwargs: data-set options: ``digits``: ``image_size`` (32); ``textured_digits``:
            ``image_size`` (96), ``seed`` (0); ``photo_crops``: ``image_size`` (96), ``seed`` (0);
            ``synthetic``: ``num_samples`` (64),
            ``image_size`` (32), ``num_classes`` (10), ``seed`` (0); ``inaturalist``: ``train_version``
            ("2021_train"), ``val_version`` ("2021_valid");
            ``places365``: ``small`` (True), ``challenge`` (False).

    Returns:
        A map-style ``torch.utils.data.Dataset`` of ``(transform(image), int label)`` with a ``num_classes``
        attribute (and ``classes`` where the source has class names).
    """
    info = dataset_info(name)
    check_choice("split", split, SPLITS)
    check_choice("on_corrupt", on_corrupt, ON_CORRUPT_CHOICES)
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False, got {download!r}.")
    if transform is not None and not callable(transform):
        raise ValueError(f"transform must be callable or None, got {type(transform).__name__}.")
    _check_options(name, info.builder, kwargs)
    return info.builder(root=root, split=split, transform=transform, download=download, on_corrupt=on_corrupt,
                        **kwargs)


_COMMON_ARGUMENTS = ("root", "split", "transform", "download", "on_corrupt")


def _check_options(name: str, builder: Callable, options: dict) -> None:
    """Raise ``ValueError`` naming any option the data set's builder does not take."""
    parameters = inspect.signature(builder).parameters
    accepted = [key for key in parameters if key not in _COMMON_ARGUMENTS]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"dataset {name!r} does not take the option(s) {unknown}; it takes "
                         f"{accepted or 'no options'}.")
