"""Photos shipped with scikit-image (no download), as uint8 RGB arrays, for the keypoint tests."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

# Natural photographs (colour and grayscale) and a few synthetic images. Names whose data needs a download
# (pooch) in this scikit-image version are skipped when they fail to load.
NATURAL_PHOTOS = (
    "astronaut", "cat", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket",
    "stereo_motorcycle", "brick", "camera", "cell", "clock", "coins", "grass", "gravel", "microaneurysms", "moon",
    "page", "text", "eagle", "lily", "skin", "kidney",
)
# Synthetic images with large flat areas and exact ties in the FAST score (non-max suppression edge cases).
SYNTHETIC_IMAGES = ("checkerboard", "colorwheel", "logo", "binary_blobs", "horse", "shepp_logan_phantom")


def _as_rgb_uint8(image) -> np.ndarray:
    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = image[0]
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    elif image.dtype != np.uint8:
        image = np.clip(np.rint(image * 255.0 if image.max() <= 1.0 else image), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


@functools.lru_cache(maxsize=None)
def load_images(names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Name -> uint8 (H, W, 3) RGB for every name in ``names`` that loads offline."""
    import skimage.data

    images = {}
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                images[name] = _as_rgb_uint8(getattr(skimage.data, name)())
        # scikit-image raises pytest's Skipped (a BaseException) under pytest when data would need a download.
        except (Exception, pytest.skip.Exception):
            continue
    return images


def resized(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-resampled copy of an (H, W, 3) image."""
    import cv2

    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def centre_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Central crop at native resolution (full-resolution detail), resized up first if the image is smaller."""
    if image.shape[0] < height or image.shape[1] < width:
        image = resized(image, max(height, image.shape[0]), max(width, image.shape[1]))
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return np.ascontiguousarray(image[top:top + height, left:left + width])
