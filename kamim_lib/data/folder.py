"""Class-per-folder image datasets: generic ``imagefolder``, ``imagenet`` and ``imagenette``.

Layout (all three)::

    <data_root>/train/<class name>/<image file>
    <data_root>/val/<class name>/<image file>

Class indices are the positions of the class folders of ``train/`` in sorted order, for both splits, so the
``val`` labels always agree with ``train`` even when ``val`` lacks some class (torchvision's ``ImageFolder`` indexes
each split on its own and would shift them). Without a ``train/`` folder, the split's own folders define the
classes. Files are found recursively under each class folder and sorted, so indices are stable. Symlinked folders
are followed (data on another disk), but one that leads back into the split folder or above it (a loop, which
would repeat images and label other classes' images as this one) is refused, naming it; so is a class folder
without images.
Images are decoded with :func:`~kamim_lib.data.image_io.load_rgb_image` (any mode -> 8-bit RGB) and unreadable files
follow the ``on_corrupt`` policy of :mod:`kamim_lib.data.corrupt`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from torch.utils.data import Dataset

from kamim_lib.data.corrupt import SkipCorruptImages
from kamim_lib.data.image_io import load_rgb_image
from kamim_lib.data.roots import require_dir, require_root

# Extensions (lower case) read as images; the same set torchvision's ImageFolder reads.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

FOLDER_LAYOUT = "<data_root>/train/<class>/<image> and <data_root>/val/<class>/<image> (one folder per class)"
IMAGENET_LAYOUT = ("<data_root>/train/n01440764/*.JPEG ... and <data_root>/val/n01440764/*.JPEG ... (ImageNet-1K, "
                   "1000 class folders named by WordNet id in both splits; sort the flat validation images into "
                   "class folders first)")
IMAGENETTE_LAYOUT = ("<data_root>/train/<wnid>/*.JPEG and <data_root>/val/<wnid>/*.JPEG (the extracted imagenette2, "
                     "imagenette2-320 or imagenette2-160 folder; 10 class folders)")


def list_class_folders(directory: Path) -> list[str]:
    """Sorted names of the sub-folders of ``directory`` (hidden ones ignored)."""
    return sorted(entry.name for entry in os.scandir(directory)
                  if entry.is_dir() and not entry.name.startswith("."))


def _image_files(class_dir: Path) -> list[Path]:
    """Image files under ``class_dir``, recursively and sorted; symlinked folders followed unless they loop.

    Raises:
        ValueError: a symlinked folder resolves into the split folder (``class_dir``'s parent, any class) or
            above it, or to a folder already walked (naming the link and its target).
    """
    top = Path(os.path.realpath(class_dir))
    visited = {str(top)}
    files = []
    for folder, subfolders, names in os.walk(class_dir, followlinks=True):
        subfolders.sort()
        for name in list(subfolders):
            link = Path(folder) / name
            if not link.is_symlink():
                continue
            target = Path(os.path.realpath(link))
            split = top.parent
            if target == split or split in target.parents or target in split.parents or str(target) in visited:
                raise ValueError(f"{link} is a symlink to {target}, inside (or above) the split folder {split} or "
                                 "already read: a loop, which would repeat images and give other classes' images "
                                 f"the label {class_dir.name!r}; remove the link or point it at a folder outside "
                                 f"{split}")
            visited.add(str(target))
        files.extend(Path(folder) / name for name in names
                     if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("."))
    return sorted(files)


class ImageFolderDataset(Dataset):
    """Images in ``directory/<class>/...`` with a given class list.

    Args:
        directory: the split folder (e.g. ``<root>/train``).
        classes: class folder names; label ``k`` is ``classes[k]``. Class folders missing under ``directory`` are
            allowed (no samples of that class).
        transform: applied to the RGB PIL image; None returns the PIL image.

    Items are ``(transform(image), label)`` with ``label`` an int. A file that cannot be decoded raises
    :class:`~kamim_lib.data.image_io.CorruptImageError` (wrap in :class:`SkipCorruptImages` for the skip policy).
    """

    def __init__(self, directory: str | os.PathLike, *, classes: list[str], transform: Callable | None = None):
        self.root = Path(directory)
        self.classes = list(classes)
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.num_classes = len(self.classes)
        self.transform = transform
        unknown = sorted(set(list_class_folders(self.root)) - set(self.classes))
        if unknown:
            raise ValueError(f"{self.root} has class folders that the training split lacks: {unknown[:5]}"
                             f"{' ...' if len(unknown) > 5 else ''}; every validation class must also be a folder "
                             "under train/.")
        self.samples: list[tuple[Path, int]] = []
        empty = []
        for label, name in enumerate(self.classes):
            class_dir = self.root / name
            if class_dir.is_dir():
                found = _image_files(class_dir)
                empty += [] if found else [class_dir]
                self.samples.extend((path, label) for path in found)
        if not self.samples:
            raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) found in the class folders "
                                    f"of {self.root} (absolute: {self.root.absolute()}).")
        if empty:  # a class no image can stand for would still count in top-k and in the chance level
            raise ValueError(f"class folder {empty[0]} holds no image files ({', '.join(IMAGE_EXTENSIONS)})"
                             f"{f' (and {len(empty) - 1} more)' if len(empty) > 1 else ''}; add its images or "
                             "remove the folder")
        self.targets = [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = load_rgb_image(path)
        return (image if self.transform is None else self.transform(image)), label


def _build_class_folders(name: str, *, root, split: str, transform, on_corrupt: str, layout: str,
                         expected_classes: int | None) -> SkipCorruptImages:
    root = require_root(name, root, layout=layout)
    split_dir = require_dir(name, root / split, layout=layout, what=f"the {split!r} split folder")
    train_dir = root / "train"
    classes = list_class_folders(train_dir if train_dir.is_dir() else split_dir)
    if expected_classes is not None and len(classes) != expected_classes:
        raise ValueError(f"dataset {name!r} expects {expected_classes} class folders under "
                         f"{train_dir if train_dir.is_dir() else split_dir}, found {len(classes)}. "
                         f"Expected layout: {layout}. For another class set use the dataset name 'imagefolder'.")
    dataset = ImageFolderDataset(split_dir, classes=classes, transform=transform)
    return SkipCorruptImages(dataset, on_corrupt=on_corrupt)


def build_imagefolder(*, root, split: str, transform, download: bool, on_corrupt: str) -> SkipCorruptImages:
    """Generic class-per-folder dataset (any number of classes); see the module docstring for the layout."""
    del download  # nothing to download for a user's folder
    return _build_class_folders("imagefolder", root=root, split=split, transform=transform, on_corrupt=on_corrupt,
                                layout=FOLDER_LAYOUT, expected_classes=None)


def build_imagenet(*, root, split: str, transform, download: bool, on_corrupt: str) -> SkipCorruptImages:
    """ImageNet-1K in class folders (1000 classes, checked)."""
    if download:
        raise ValueError("download=True is not available for 'imagenet' (its licence requires a manual download); "
                         f"prepare the folders yourself. Expected layout: {IMAGENET_LAYOUT}")
    return _build_class_folders("imagenet", root=root, split=split, transform=transform, on_corrupt=on_corrupt,
                                layout=IMAGENET_LAYOUT, expected_classes=1000)


def build_imagenette(*, root, split: str, transform, download: bool, on_corrupt: str) -> SkipCorruptImages:
    """Imagenette (10 easy ImageNet classes) in class folders (10 classes, checked)."""
    if download:
        raise ValueError("download=True is not available for 'imagenette'; extract the imagenette2 archive "
                         f"yourself. Expected layout: {IMAGENETTE_LAYOUT}")
    return _build_class_folders("imagenette", root=root, split=split, transform=transform, on_corrupt=on_corrupt,
                                layout=IMAGENETTE_LAYOUT, expected_classes=10)


def count_folder_classes(root) -> int:
    """Number of class folders of an ``imagefolder`` root (those of ``train/``, else of ``val/``)."""
    root = require_root("imagefolder", root, layout=FOLDER_LAYOUT)
    for split in ("train", "val"):
        if (root / split).is_dir():
            return len(list_class_folders(root / split))
    raise FileNotFoundError(f"dataset 'imagefolder': neither {root / 'train'} nor {root / 'val'} exists. "
                            f"Expected layout: {FOLDER_LAYOUT}")
