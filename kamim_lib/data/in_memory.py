"""The shared shape of the embedded data sets (``digits``, ``textured_digits``, ``photo_crops``): uint8 images held in
memory, built once at construction, served as PIL RGB images with int labels."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from PIL import Image
from torch.utils.data import Dataset


def check_size_and_seed(image_size, seed, *, minimum_size: int, maximum_size: int | None = None) -> None:
    """Raise one ``ValueError`` naming the bad option of an embedded set (``image_size`` in
    [``minimum_size``, ``maximum_size``], ``seed`` an int >= 0)."""
    upper = f" and <= {maximum_size}" if maximum_size is not None else ""
    if (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < minimum_size
            or (maximum_size is not None and image_size > maximum_size)):
        raise ValueError(f"image_size must be an int >= {minimum_size}{upper}, got {image_size!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}.")


class InMemoryImageDataset(Dataset):
    """Images and labels held in memory.

    Args:
        images: uint8 (N, S, S, 3) RGB or (N, S, S) grey (served as RGB).
        targets: N int labels in ``0..len(classes)-1``.
        classes: the class names, in label order.
        transform: applied to the PIL image; None returns the PIL image.

    Items are ``(transform(image), label)``. Attributes ``images``, ``targets``, ``classes``, ``num_classes`` and
    ``image_size`` (S) are what :mod:`kamim_lib.data.fingerprint` hashes.
    """

    def __init__(self, images: np.ndarray, targets: Sequence[int], classes: Sequence[str],
                 transform: Callable | None = None):
        self.images = images
        self.targets = [int(target) for target in targets]
        self.classes = list(classes)
        self.num_classes = len(self.classes)
        self.image_size = int(images.shape[1])
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        image = Image.fromarray(self.images[index]).convert("RGB")
        return (image if self.transform is None else self.transform(image)), self.targets[index]
