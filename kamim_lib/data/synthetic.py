"""``synthetic``: deterministic random images and labels, for tests and smoke runs (no files, no download).

Sample ``i`` of split ``s`` is drawn from ``numpy.random.default_rng([seed, split_id(s), i])``: a random coarse
RGB grid (``image_size // 4`` cells a side, at least 2) upscaled bilinearly to ``image_size`` (so the images have
edges and corners for the keypoint detectors), and a uniform label in ``0..num_classes-1``. The same
``(seed, split, i)`` always gives the same sample, in any process or DataLoader worker. Labels carry no signal:
use ``digits`` for anything that should learn.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from kamim_lib._validation import check_positive

_SPLIT_IDS = {"train": 0, "val": 1}


class SyntheticDataset(Dataset):
    """Deterministic random RGB images with random labels.

    Args:
        split: ``"train"`` or ``"val"`` (different streams).
        num_samples: number of samples.
        image_size: side of the square images in pixels.
        num_classes: labels are in ``0..num_classes-1``.
        seed: base seed.
        transform: applied to the PIL image; None returns the PIL image.
    """

    def __init__(self, *, split: str = "train", num_samples: int = 64, image_size: int = 32, num_classes: int = 10,
                 seed: int = 0, transform: Callable | None = None):
        for name, value in (("num_samples", num_samples), ("image_size", image_size), ("num_classes", num_classes)):
            if not isinstance(value, int):
                raise ValueError(f"{name} must be an int, got {value!r}.")
            check_positive(name, value)
        self.split_id = _SPLIT_IDS[split]
        self.num_samples = num_samples
        self.image_size = image_size
        self.num_classes = num_classes
        self.classes = [f"class_{k}" for k in range(num_classes)]
        self.seed = int(seed)
        self.transform = transform

    def __len__(self) -> int:
        return self.num_samples

    def sample(self, index: int) -> tuple[Image.Image, int]:
        """The untransformed ``(PIL RGB image, label)`` of sample ``index``."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} is out of range for {self.num_samples} synthetic samples.")
        rng = np.random.default_rng([self.seed, self.split_id, index])
        cells = max(2, self.image_size // 4)
        coarse = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((self.image_size, self.image_size), Image.BILINEAR)
        return image, int(rng.integers(self.num_classes))

    def __getitem__(self, index: int):
        image, label = self.sample(index)
        return (image if self.transform is None else self.transform(image)), label


def build_synthetic(*, root, split: str, transform, download: bool, on_corrupt: str, num_samples: int = 64,
                    image_size: int = 32, num_classes: int = 10, seed: int = 0) -> SyntheticDataset:
    """Registry builder; the options are those of :class:`SyntheticDataset`."""
    del root, download, on_corrupt
    return SyntheticDataset(split=split, num_samples=num_samples, image_size=image_size, num_classes=num_classes,
                            seed=seed, transform=transform)
