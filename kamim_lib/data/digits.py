"""``digits``: the embedded default data set, real labelled images that need no download.

Source: scikit-learn's ``load_digits`` (the UCI optical recognition of handwritten digits test set, shipped inside
the scikit-learn package): 1797 grey 8x8 images, values 0..16 (ink is high), 10 classes (digits 0-9).

Conversion: each value ``v`` becomes ``round(v * 255 / 16)`` (uint8, ink bright on black), the 8x8 image is
upscaled to ``image_size`` x ``image_size`` (default 32) with Pillow's bilinear filter, and the grey channel is
replicated to RGB.

Split (deterministic, no random state): within each class, in the order ``load_digits`` returns the samples, every
5th sample (class rank 4, 9, 14, ...) goes to ``val`` and the rest to ``train``. That gives 1442 train and 355 val
images with the class proportions of the whole set.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image

from kamim_lib.data.in_memory import InMemoryImageDataset

DIGITS_NUM_CLASSES = 10
DIGITS_VAL_EVERY = 5  # within a class, every 5th sample is a validation sample
DIGITS_MAX_VALUE = 16  # load_digits pixel values are 0..16


def _load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 8) float values 0..16 and (N,) int64 labels from the copy shipped with scikit-learn."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn is heavy and only this set needs it

    bunch = load_digits()
    return np.asarray(bunch.images), np.asarray(bunch.target, dtype=np.int64)


def digits_split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Indices (sorted, int64) of the ``split`` samples under the rule in the module docstring.

    Args:
        labels: (N,) integer class labels in data set order.
        split: ``"train"`` or ``"val"``.
    """
    rank_in_class = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank_in_class[members] = np.arange(len(members))
    is_val = rank_in_class % DIGITS_VAL_EVERY == DIGITS_VAL_EVERY - 1
    return np.flatnonzero(is_val if split == "val" else ~is_val).astype(np.int64)


class DigitsDataset(InMemoryImageDataset):
    """scikit-learn's handwritten digits as RGB PIL images (see the module docstring).

    Args:
        split: ``"train"`` (1442 images) or ``"val"`` (355 images).
        image_size: side of the square output images in pixels (>= 8).
        transform: applied to the PIL image; None returns the PIL image.

    Items are ``(transform(image), label)``, ``label`` an int in 0..9.
    """

    def __init__(self, *, split: str = "train", image_size: int = 32, transform: Callable | None = None):
        if not isinstance(image_size, int) or image_size < 8:
            raise ValueError(f"image_size must be an int >= 8 (the digits are 8x8 originals), got {image_size!r}.")
        values, labels = _load_digits_arrays()
        keep = digits_split_indices(labels, split)
        grey = np.rint(values[keep] * (255.0 / DIGITS_MAX_VALUE)).astype(np.uint8)  # (n, 8, 8)
        # Upscale once here (1797 tiny images) rather than per access.
        upscaled = np.stack([np.asarray(Image.fromarray(image).resize(
            (image_size, image_size), Image.BILINEAR)) for image in grey])  # (n, S, S) uint8
        super().__init__(upscaled, labels[keep], [str(digit) for digit in range(DIGITS_NUM_CLASSES)], transform)
        self.source_indices = keep


def build_digits(*, root, split: str, transform, download: bool, on_corrupt: str, image_size: int = 32):
    """Registry builder; ``root``, ``download`` and ``on_corrupt`` do not apply to the embedded set."""
    del root, download, on_corrupt
    return DigitsDataset(split=split, image_size=image_size, transform=transform)
