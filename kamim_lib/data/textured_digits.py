"""``textured_digits``: scikit-learn's digits composited onto natural-texture crops; embedded, no download.

Why: on plain ``digits`` (bright strokes on black) ORB finds no keypoint at all and FAST/SIFT only outline the
stroke, so KAMIM's weights carry no information beyond "where the ink is". Here every image has keypoints all over
it, and most of them fall on the *background*, which does not decide the label: a test of KAMIM's premise that
keypoint-dense regions are the informative ones.

Construction of sample ``i`` (deterministic: a NumPy generator seeded with ``(seed, i)``; no global state):

1. background: one of :data:`BACKGROUND_PHOTOS` (photos shipped inside the scikit-image package, converted to RGB),
   chosen uniformly; a square crop of side uniform in [``image_size``, 2·``image_size``] at a uniform position, resized to
   ``image_size`` with Pillow's bilinear filter (antialiased), then its contrast halved around its mean
   (``0.5 · (x − mean) + mean``) so the digit stays legible;
2. digit: the 8x8 image of ``load_digits`` (values 0..16), upscaled to a side uniform in
   [``image_size``/2, 3·``image_size``/4] (bilinear), placed at a uniform position fully inside the image;
3. ink: ``alpha = value / 16`` blends the ink colour over the background; the ink is white where the background
   under the digit is darker than mid-grey, black otherwise.

Labels are the digit classes 0..9; the split is ``digits``' (every 5th sample of each class is ``val``: 1442 train,
355 val). :func:`~kamim_lib.keypoints.coverage.keypoint_coverage` counts the images on which each detector finds
keypoints (at the default 96 px: FAST, SIFT and ORB on ≥ 90 % of the images; the tests pin it).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
from PIL import Image

from kamim_lib.keypoints.coverage import keypoint_coverage  # noqa: F401  (its former home; old imports keep working)

from kamim_lib.data.bundled_photos import load_bundled_photo, zoomed_square_crop
from kamim_lib.data.digits import DIGITS_MAX_VALUE, DIGITS_NUM_CLASSES, _load_digits_arrays, digits_split_indices
from kamim_lib.data.in_memory import InMemoryImageDataset, check_size_and_seed

#: scikit-image sample photos used as backgrounds (all ship inside the package: no download).
BACKGROUND_PHOTOS = ("astronaut", "brick", "camera", "chelsea", "coffee", "coins")
#: Crops cover between 1 and this many output sides of the photo: close-ups keep natural structure that a model can
#: predict from its surroundings (far-away crops of a 512-px photo squeezed to 96 px are mostly aliased texture).
MAX_CROP_ZOOM = 2
TEXTURED_DIGITS_DEFAULT_SIZE = 96
BACKGROUND_CONTRAST = 0.5


def _background_photos() -> list[np.ndarray]:
    """uint8 (H, W, 3) RGB arrays of :data:`BACKGROUND_PHOTOS`."""
    return [load_bundled_photo(name) for name in BACKGROUND_PHOTOS]


def composite_digit(digit: np.ndarray, photo: np.ndarray, image_size: int, rng: np.random.Generator) -> np.ndarray:
    """One textured digit (steps 1–3 of the module docstring).

    Args:
        digit: (8, 8) float values 0..16 (ink is high).
        photo: uint8 (H, W, 3) background photo, H and W >= ``image_size``.
        image_size: output side S.
        rng: the sample's generator (consumed in a fixed order: crop side, crop position, digit side, position).

    Returns:
        uint8 (S, S, 3) RGB.
    """
    background = zoomed_square_crop(photo, image_size, MAX_CROP_ZOOM, rng).astype(np.float32)
    background = BACKGROUND_CONTRAST * (background - background.mean()) + background.mean()
    digit_side = int(rng.integers(image_size // 2, 3 * image_size // 4 + 1))
    row, column = int(rng.integers(0, image_size - digit_side + 1)), int(rng.integers(0, image_size - digit_side + 1))
    ink_values = np.rint(digit * (255.0 / DIGITS_MAX_VALUE)).astype(np.uint8)
    alpha = np.asarray(Image.fromarray(ink_values).resize((digit_side, digit_side), Image.BILINEAR),
                       dtype=np.float32)[:, :, None] / 255.0  # (d, d, 1)
    region = background[row:row + digit_side, column:column + digit_side]
    ink = 255.0 if region.mean() < 128.0 else 0.0
    background[row:row + digit_side, column:column + digit_side] = (1 - alpha) * region + alpha * ink
    return np.clip(np.rint(background), 0, 255).astype(np.uint8)


def composite_split(split: str, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every image of ``split``, composited (the module docstring's construction).

    Returns:
        (images uint8 (n, S, S, 3), all ``digits`` labels (1797,) int64, the split's indices (n,) into them).
    """
    values, labels = _load_digits_arrays()
    keep = digits_split_indices(labels, split)
    photos = _background_photos()
    images = []
    for index in keep:
        rng = np.random.default_rng((seed, int(index)))
        photo = photos[int(rng.integers(len(photos)))]
        images.append(composite_digit(values[index], photo, image_size, rng))
    return np.stack(images), labels, keep


@lru_cache(maxsize=4)
def _composited_split(split: str, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`composite_split`, once per process and arguments, its arrays read-only.

    Why: a training run builds the train split up to twice (training and kNN transforms) and the val split once,
    and a notebook trains several runs in one kernel; compositing 1797 images costs seconds each time while the
    result depends only on the arguments. Read-only, so that no user of one data set can change another's pixels.
    """
    arrays = composite_split(split, image_size, seed)
    for array in arrays:
        array.setflags(write=False)
    return arrays


class TexturedDigitsDataset(InMemoryImageDataset):
    """Digits on natural textures (see the module docstring).

    Args:
        split: ``"train"`` (1442 images) or ``"val"`` (355 images).
        image_size: side of the square images in pixels (>= 32; default 96, where ORB's 31-px border still leaves
            room for keypoints).
        seed: the composition seed (backgrounds, positions, sizes); the labels and split do not depend on it.
        transform: applied to the PIL image; None returns the PIL image.

    Items are ``(transform(image), label)``, ``label`` an int in 0..9.
    """

    def __init__(self, *, split: str = "train", image_size: int = TEXTURED_DIGITS_DEFAULT_SIZE, seed: int = 0,
                 transform: Callable | None = None):
        check_size_and_seed(image_size, seed, minimum_size=32)
        images, labels, keep = _composited_split(split, image_size, seed)  # images (n, S, S, 3) uint8
        super().__init__(images, labels[keep], [str(digit) for digit in range(DIGITS_NUM_CLASSES)], transform)
        self.source_indices = keep


def build_textured_digits(*, root, split: str, transform, download: bool, on_corrupt: str,
                          image_size: int = TEXTURED_DIGITS_DEFAULT_SIZE, seed: int = 0):
    """Registry builder; ``root``, ``download`` and ``on_corrupt`` do not apply to the embedded set."""
    del root, download, on_corrupt
    return TexturedDigitsDataset(split=split, image_size=image_size, seed=seed, transform=transform)

