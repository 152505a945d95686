"""Places365 through ``torchvision.datasets.Places365``.

Layout (torchvision's; the devkit files sit in the root and are md5-checked by torchvision)::

    <data_root>/categories_places365.txt
    <data_root>/places365_train_standard.txt      <data_root>/places365_val.txt
    <data_root>/data_256_standard/a/airfield/00000001.jpg ...   (train, small=True; data_large_standard/ otherwise)
    <data_root>/val_256/Places365_val_00000001.jpg ...          (val, small=True; val_large/ otherwise)

Split mapping: ``train`` -> ``train-standard`` (``train-challenge`` with ``challenge=True``), ``val`` -> ``val``.
``small=True`` (default) reads the 256x256 release, which is what a 192-pixel crop needs. Images are decoded with
:func:`~kamim_lib.data.image_io.load_rgb_image` under the ``on_corrupt`` policy.
"""
from __future__ import annotations

import os

from torchvision import datasets

from kamim_lib.data.corrupt import SkipCorruptImages
from kamim_lib.data.image_io import load_rgb_image
from kamim_lib.data.roots import HOW_TO_SET_ROOT, require_root

PLACES365_NUM_CLASSES = 365
PLACES365_LAYOUT = ("<data_root>/{categories_places365.txt, places365_train_standard.txt, places365_val.txt, "
                    "data_256_standard/, val_256/} (torchvision.datasets.Places365 layout; *_large* folders with "
                    "small=False)")


def build_places365(*, root, split: str, transform, download: bool, on_corrupt: str, small: bool = True,
                    challenge: bool = False) -> SkipCorruptImages:
    """Registry builder; kwargs ``small`` (256-px release) and ``challenge`` (train-challenge list)."""
    torchvision_split = ("train-challenge" if challenge else "train-standard") if split == "train" else "val"
    root = require_root("places365", root, layout=PLACES365_LAYOUT, must_exist=not download)
    try:
        dataset = datasets.Places365(str(root), split=torchvision_split, small=small, download=download,
                                     transform=transform, loader=load_rgb_image)
    except RuntimeError as error:  # torchvision: a devkit file is missing or fails its md5 check
        raise FileNotFoundError(f"dataset 'places365' under {root} (absolute: {root.absolute()}): {error} "
                                f"Expected layout: {PLACES365_LAYOUT}. To use another location, "
                                f"{HOW_TO_SET_ROOT}.") from error
    if not os.path.isdir(dataset.images_dir):
        raise FileNotFoundError(f"dataset 'places365': image folder {dataset.images_dir} not found (split "
                                f"{torchvision_split!r}, small={small}). Expected layout: {PLACES365_LAYOUT}.")
    dataset.num_classes = PLACES365_NUM_CLASSES
    return SkipCorruptImages(dataset, on_corrupt=on_corrupt)
