"""Photos that ship inside installed packages (no download), and the zoomed square crop the embedded sets take of
them.

Sources: scikit-image's ``skimage.data`` (only the images bundled with the wheel; others need a download) and
scikit-learn's ``load_sample_images`` (``china`` and ``flower``).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

#: scikit-learn's two sample photos, in the order ``load_sample_images`` returns them.
SKLEARN_SAMPLE_PHOTOS = ("china", "flower")


def load_bundled_photo(name: str) -> np.ndarray:
    """One bundled photo as a uint8 (H, W, 3) RGB array (grey photos have their channel repeated).

    Args:
        name: a ``skimage.data`` function name that needs no download (``"astronaut"``, ``"brick"``...) or one of
            :data:`SKLEARN_SAMPLE_PHOTOS`.
    """
    if name in SKLEARN_SAMPLE_PHOTOS:
        from sklearn.datasets import load_sample_images  # imported here: heavy, and only the embedded sets need it

        photo = np.asarray(load_sample_images().images[SKLEARN_SAMPLE_PHOTOS.index(name)])
    else:
        import skimage.data  # imported here: only the embedded sets need scikit-image

        photo = np.asarray(getattr(skimage.data, name)())
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    return np.ascontiguousarray(photo[:, :, :3]).astype(np.uint8)


def zoomed_square_crop(photo: np.ndarray, image_size: int, max_zoom: int, rng: np.random.Generator) -> np.ndarray:
    """A square crop of ``photo`` whose side is uniform in [``image_size``, ``max_zoom``·``image_size``] (capped at
    the photo's shorter side), at a uniform position, resized to ``image_size`` with Pillow's bilinear filter
    (antialiased).

    Args:
        photo: uint8 (H, W, 3), H and W >= ``image_size``.
        image_size: output side S.
        max_zoom: the largest crop, in output sides.
        rng: consumed in a fixed order: side, top, left.

    Returns:
        uint8 (S, S, 3).
    """
    height, width = photo.shape[:2]
    side = int(rng.integers(image_size, min(height, width, max_zoom * image_size) + 1))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((image_size, image_size), Image.BILINEAR)
    return np.asarray(crop)
