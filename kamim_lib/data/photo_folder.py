"""An ImageFolder of JPEG files cut from the photos bundled with scikit-image (offline), for benchmarks and tests
of the file-reading pipelines (decode, crop, keypoints) at realistic image sizes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from kamim_lib.sample_photos import PHOTO_NAMES, load_photo


def write_photo_folder(root: str | Path, *, train_images: int, val_images: int = 0,
                       size_range: tuple[int, int] = (300, 500), quality: int = 90, seed: int = 0) -> Path:
    """Write ``root/train/<photo>/<n>.jpg`` (and ``root/val/...``): random windows of the bundled photos, resized
    to a random side in ``size_range`` (ImageNet's typical 500 x 375 by default), one class per photo.

    Args:
        root: folder to create (existing files of the same names are overwritten).
        train_images, val_images: how many files per split, spread round-robin over the classes.
        size_range: inclusive range of the longer side in pixels.
        quality: JPEG quality.
        seed: the windows and sizes.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    photos = {name: load_photo(name) for name in PHOTO_NAMES}
    for split, count in (("train", train_images), ("val", val_images)):
        for index in range(count):
            name = PHOTO_NAMES[index % len(PHOTO_NAMES)]
            photo = photos[name]
            height, width = photo.shape[:2]
            crop_h, crop_w = (int(rng.integers(side // 2, side + 1)) for side in (height, width))
            top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
            longer = int(rng.integers(size_range[0], size_range[1] + 1))
            scale = longer / max(crop_h, crop_w)
            image = Image.fromarray(photo[top:top + crop_h, left:left + crop_w]).resize(
                (max(1, round(crop_w * scale)), max(1, round(crop_h * scale))), Image.BILINEAR)
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            image.save(folder / f"{index:06d}.jpg", quality=quality)
    return root
