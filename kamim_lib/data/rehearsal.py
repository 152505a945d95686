"""Rehearsal data: folders in the layouts of ImageNet-1K and Imagenette2-160, cut from the bundled photos.

The paper profile needs ImageNet-1K for training and Imagenette2-160 validation for the analyses. These folders
have the same layouts (:data:`~kamim_lib.data.folder.IMAGENET_LAYOUT`, :data:`~kamim_lib.data.folder.IMAGENETTE_LAYOUT`)
with tiny contents, so that a whole run of the paper path (``kamim reproduce --profile paper-dryrun``) can be
rehearsed on a laptop before GPU days are spent on the real data::

    <out>/imagenet/train/n01440764/n01440764_0.JPEG ...    1000 class folders named by the real WordNet ids
    <out>/imagenet/val/n01440764/ILSVRC2012_val_00000001.JPEG ...
    <out>/imagenette2-160/train/n01440764/n01440764_0.JPEG ...    the 10 Imagenette classes
    <out>/imagenette2-160/val/n01440764/ILSVRC2012_val_00000001.JPEG ...    the real class counts (3925 images)

What is real: the class folder names, their number and sort order (so class indices are ImageNet's), the file
names' pattern, Imagenette2-160's shorter side of 160 px and its validation class counts — the original's
per-class 1/64 subsample of them holds 59 images, and an analysis that asks for 64 meets exactly the original's
situation. What is not: the pictures. Class k's images are windows of one bundled photo (k modulo the
:data:`~kamim_lib.data.photo_crops.PHOTO_NAMES` photos) at seeded random positions and sizes, so classes are
neither separable nor meaningful; numbers measured on them say that the code runs, nothing else.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from timm.data import ImageNetInfo

from .bundled_photos import load_bundled_photo
from .photo_crops import PHOTO_NAMES

#: Imagenette's classes (the folder names of the imagenette2 archives, sorted) and the number of validation
#: images of each in imagenette2 / imagenette2-320 / imagenette2-160 (3925 in all).
IMAGENETTE2_VAL_COUNTS = {
    "n01440764": 387, "n02102040": 395, "n02979186": 357, "n03000684": 386, "n03028079": 409,
    "n03394916": 394, "n03417042": 389, "n03425413": 419, "n03445777": 399, "n03888257": 390,
}
IMAGENETTE2_SHORTER_SIDE = 160
IMAGENET_FOLDER = "imagenet"
IMAGENETTE_FOLDER = "imagenette2-160"
# Longer side of the ImageNet stand-ins: small, so that writing and decoding them is quick (the paper's transforms
# resize every image to 192 px anyway).
IMAGENET_SIDE_RANGE = (96, 128)
JPEG_QUALITY = 75


@dataclass(frozen=True)
class RehearsalFolder:
    """One written data root.

    Attributes:
        root: the folder (holds ``train/`` and ``val/``).
        images: ``{"train": n, "val": n}`` files written per split.
        classes: class folders per split.
        bytes: total size of the files written.
    """

    root: Path
    images: dict
    classes: int
    bytes: int


@dataclass(frozen=True)
class RehearsalData:
    """What :func:`write_rehearsal_data` wrote: the two data roots and how long it took."""

    imagenet: RehearsalFolder
    imagenette: RehearsalFolder
    seconds: float


def imagenet_wnids() -> list[str]:
    """The 1000 ImageNet-1K WordNet ids in class-index order (timm's list)."""
    return list(ImageNetInfo("imagenet-1k").label_names())


def _check_count(name: str, value, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")


def _require_empty(root: Path) -> None:
    """Refuse to write into a folder that already holds something (stale files would change the counts)."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValueError(f"{root} already exists and is not an empty folder; delete it or choose another "
                         "output folder.")


class _PhotoWindows:
    """Seeded windows of the bundled photos, resized so that one side has a given length."""

    def __init__(self, seed: int):
        self.photos = [load_bundled_photo(name) for name in PHOTO_NAMES]
        self.rng = np.random.default_rng(seed)

    def window(self, label: int, *, shorter: int | None = None, longer: int | None = None) -> Image.Image:
        """A window of photo ``label % len(photos)``, 3:4 or 4:3, resized to the given shorter or longer side."""
        photo = self.photos[label % len(self.photos)]
        height, width = photo.shape[:2]
        side = int(self.rng.integers(min(height, width) // 3, min(height, width) + 1))
        landscape = bool(self.rng.integers(0, 2))
        crop_h, crop_w = (side * 3 // 4, side) if landscape else (side, side * 3 // 4)
        top, left = int(self.rng.integers(0, height - crop_h + 1)), int(self.rng.integers(0, width - crop_w + 1))
        scale = shorter / min(crop_h, crop_w) if shorter is not None else longer / max(crop_h, crop_w)
        size = (max(1, round(crop_w * scale)), max(1, round(crop_h * scale)))
        return Image.fromarray(photo[top:top + crop_h, left:left + crop_w]).resize(size, Image.BILINEAR)


def _write_split(root: Path, split: str, counts: dict[str, int], labels: dict[str, int], windows: _PhotoWindows,
                 *, shorter: int | None, side_range: tuple[int, int] | None) -> int:
    """Write ``counts[wnid]`` JPEGs into ``root/split/wnid``; returns the bytes written."""
    written = 0
    number = 0
    for wnid, count in counts.items():
        folder = root / split / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            number += 1
            longer = None if side_range is None else int(windows.rng.integers(side_range[0], side_range[1] + 1))
            image = windows.window(labels[wnid], shorter=shorter, longer=longer)
            # Real ImageNet names: <wnid>_<n>.JPEG in train, ILSVRC2012_val_<8 digits>.JPEG in val.
            name = f"{wnid}_{index}.JPEG" if split == "train" else f"ILSVRC2012_val_{number:08d}.JPEG"
            path = folder / name
            image.save(path, format="JPEG", quality=JPEG_QUALITY)
            written += path.stat().st_size
    return written


def write_imagenet_rehearsal(root: str | os.PathLike, *, train_per_class: int = 2, val_per_class: int = 1,
                             seed: int = 0) -> RehearsalFolder:
    """An ImageNet-1K layout: 1000 class folders (real WordNet ids) in ``train/`` and ``val/``.

    Args:
        root: the folder to create (must not exist, or be empty: ``ValueError`` otherwise).
        train_per_class, val_per_class: JPEGs per class folder (longer side 96-128 px).
        seed: the windows.

    Returns:
        :class:`RehearsalFolder`.
    """
    _check_count("train_per_class", train_per_class, 1)
    _check_count("val_per_class", val_per_class, 1)
    root = Path(root)
    _require_empty(root)
    wnids = imagenet_wnids()
    labels = {wnid: index for index, wnid in enumerate(wnids)}
    windows = _PhotoWindows(seed)
    size = sum(_write_split(root, split, dict.fromkeys(wnids, count), labels, windows, shorter=None,
                            side_range=IMAGENET_SIDE_RANGE)
               for split, count in (("train", train_per_class), ("val", val_per_class)))
    return RehearsalFolder(root, {"train": 1000 * train_per_class, "val": 1000 * val_per_class}, 1000, size)


def write_imagenette_rehearsal(root: str | os.PathLike, *, train_per_class: int = 2,
                               val_counts: dict[str, int] | None = None, seed: int = 1) -> RehearsalFolder:
    """An Imagenette2-160 layout: the 10 class folders in ``train/`` and ``val/``, shorter side 160 px.

    Args:
        root: the folder to create (must not exist, or be empty).
        train_per_class: JPEGs per training class folder (only the analyses' ``val`` split is read by the paper
            path; ``train/`` must exist because it defines the classes).
        val_counts: validation images per class; None = the real :data:`IMAGENETTE2_VAL_COUNTS` (3925).
        seed: the windows.

    Returns:
        :class:`RehearsalFolder`.
    """
    _check_count("train_per_class", train_per_class, 1)
    val_counts = dict(IMAGENETTE2_VAL_COUNTS if val_counts is None else val_counts)
    if sorted(val_counts) != sorted(IMAGENETTE2_VAL_COUNTS):
        raise ValueError(f"val_counts must name exactly the Imagenette classes {sorted(IMAGENETTE2_VAL_COUNTS)}, "
                         f"got {sorted(val_counts)}.")
    for wnid, count in val_counts.items():
        _check_count(f"val_counts[{wnid!r}]", count, 1)
    root = Path(root)
    _require_empty(root)
    wnids = sorted(IMAGENETTE2_VAL_COUNTS)
    # Imagenette's classes are ImageNet classes; their photos follow the ImageNet stand-ins' class indices.
    imagenet_index = {wnid: index for index, wnid in enumerate(imagenet_wnids())}
    labels = {wnid: imagenet_index.get(wnid, position) for position, wnid in enumerate(wnids)}
    windows = _PhotoWindows(seed)
    size = _write_split(root, "train", dict.fromkeys(wnids, train_per_class), labels, windows,
                        shorter=IMAGENETTE2_SHORTER_SIDE, side_range=None)
    size += _write_split(root, "val", {wnid: val_counts[wnid] for wnid in wnids}, labels, windows,
                         shorter=IMAGENETTE2_SHORTER_SIDE, side_range=None)
    return RehearsalFolder(root, {"train": 10 * train_per_class, "val": sum(val_counts.values())}, 10, size)


def write_rehearsal_data(out_dir: str | os.PathLike, *, imagenet_train_per_class: int = 2,
                         imagenet_val_per_class: int = 1, seed: int = 0) -> RehearsalData:
    """Both rehearsal roots under ``out_dir``: ``imagenet/`` (``data_root``) and ``imagenette2-160/``
    (``analysis_data_root``); see the module docstring.

    Args:
        out_dir: parent folder (created); its ``imagenet`` and ``imagenette2-160`` must not exist or be empty.
        imagenet_train_per_class, imagenet_val_per_class: ImageNet stand-ins per class folder.
        seed: the windows (ImageNet ``seed``, Imagenette ``seed + 1``).

    Returns:
        :class:`RehearsalData` with the wall time of the writing.
    """
    _check_count("seed", seed)
    _check_count("imagenet_train_per_class", imagenet_train_per_class, 1)
    _check_count("imagenet_val_per_class", imagenet_val_per_class, 1)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a folder; choose another output folder.")
    for name in (IMAGENET_FOLDER, IMAGENETTE_FOLDER):  # check both before writing either
        _require_empty(out_dir / name)
    start = time.perf_counter()
    imagenet = write_imagenet_rehearsal(out_dir / IMAGENET_FOLDER, train_per_class=imagenet_train_per_class,
                                        val_per_class=imagenet_val_per_class, seed=seed)
    imagenette = write_imagenette_rehearsal(out_dir / IMAGENETTE_FOLDER, seed=seed + 1)
    return RehearsalData(imagenet, imagenette, time.perf_counter() - start)
