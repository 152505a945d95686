"""``photo_crops``: windows of ten photos that ship inside scikit-image and scikit-learn, labelled by photo; embedded,
no download.

Why: ``textured_digits`` puts the label on a digit and most keypoints on a background that does not decide it, and
its backgrounds are contrast-halved texture. Here the whole image is natural photo content, keypoints are spread over
structure that belongs to the class (a cat's fur, a coin's rim, cell boundaries), and the label is the photo the
window came from: a second small, real, offline data set on which masked image modelling has something to predict
from the visible pixels.

Classes (label = position in :data:`PHOTO_NAMES`): the scikit-image photos ``astronaut``, ``brick``, ``chelsea``,
``coffee``, ``coins``, ``hubble_deep_field``, ``immunohistochemistry``, scikit-learn's ``china``, and scikit-image's
``page`` and ``text`` (photographed text) (:func:`~kamim_lib.data.bundled_photos.load_bundled_photo`; grey ones get
their channel repeated). They are the bundled photos with structure nearly everywhere: on smooth ones (``moon``,
``camera``'s and ``rocket``'s sky, ``flower``'s blurred background, ``retina``'s black border, ``cell``, ``clock``)
ORB, whose 31-px border leaves only the centre of a 96-px image, finds no keypoint on a fifth to all of the windows.
Two bundled textures with keypoints everywhere, ``grass`` and ``gravel``, are left out: their pixels are
unpredictable from their surroundings, which is not what masked image modelling is meant to learn (with them in place
of ``page`` and ``text``, KAMIM's held-out masked L1 at the smoke budget, seed 0, was 0.82 of the image-blind
predictor's, against 0.77 with this list; SimMIM 0.68 against 0.62; ``benchmarks/learning_budget.py`` measures it).

Construction of window ``i`` of photo ``label`` (deterministic: a NumPy generator seeded with
``(seed, label, i)``; no global state): a square crop of side uniform in [``image_size``, 2·``image_size``] (capped at
the photo's shorter side) at a uniform position, resized to ``image_size`` with Pillow's bilinear filter
(antialiased) (:func:`~kamim_lib.data.bundled_photos.zoomed_square_crop`, as ``textured_digits``' backgrounds).

Sizes and split (fixed, independent of ``seed``): :data:`WINDOWS_PER_PHOTO` = 180 windows per photo; windows
``i % 5 == 4`` are ``val``: 144 train and 36 val per photo, 1440 train and 360 val images. Train and val windows
are different random windows of the same photos (they can overlap in area: the task is "which photo", not
generalisation to unseen scenes). Images are in window-major order (labels 0..9, 0..9, ...), so any leading subset
(``max_train_samples``) is class-balanced.

Keypoint coverage (default settings, :func:`~kamim_lib.keypoints.coverage.keypoint_coverage`) at the default 96 px,
seed 0: of the 1440 training images FAST finds keypoints on 1430 (99.3 %, median 170 per image), SIFT on 1427
(99.1 %, median 60), ORB on 1329 (92.3 %, median 12; lowest on ``china``'s sky, ``coffee``'s table and ``chelsea``'s
and ``astronaut``'s smooth patches); of the 360 validation images on 358, 358 and 331 (91.9 %). The tests pin
≥ 90 % for each detector on every 4th training image.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from kamim_lib._validation import check_choice
from kamim_lib.data.bundled_photos import load_bundled_photo, zoomed_square_crop
from kamim_lib.data.in_memory import InMemoryImageDataset, check_size_and_seed

#: The source photos; a window's label is its photo's position here.
PHOTO_NAMES = ("astronaut", "brick", "chelsea", "coffee", "coins", "hubble_deep_field", "immunohistochemistry",
               "china", "page", "text")
WINDOWS_PER_PHOTO = 180
VAL_EVERY = 5  # window i is a validation window when i % VAL_EVERY == VAL_EVERY - 1
#: Crops cover between 1 and this many output sides (close-ups, as ``textured_digits``).
MAX_CROP_ZOOM = 2
PHOTO_CROPS_DEFAULT_SIZE = 96
#: Below this ORB (31-px border) has no room for keypoints.
PHOTO_CROPS_MIN_SIZE = 32
#: The shorter side of the smallest photo (``text``, 172 x 448): every crop must fit.
PHOTO_CROPS_MAX_SIZE = 172


def window_indices(split: str) -> np.ndarray:
    """The window numbers ``i`` (per photo, int64, sorted) of ``split`` ("train" or "val")."""
    check_choice("split", split, ("train", "val"))
    windows = np.arange(WINDOWS_PER_PHOTO)
    is_val = windows % VAL_EVERY == VAL_EVERY - 1
    return windows[is_val if split == "val" else ~is_val]


def window_ids(split: str) -> list[tuple[int, int]]:
    """``(label, i)`` of every image of ``split``, in data-set order: window-major (the label cycles fastest), so any
    leading subset (``max_train_samples``) holds every class."""
    return [(label, int(window)) for window in window_indices(split) for label in range(len(PHOTO_NAMES))]


class PhotoCropsDataset(InMemoryImageDataset):
    """Windows of bundled photos labelled by photo (see the module docstring).

    Args:
        split: ``"train"`` (1440 images) or ``"val"`` (360 images).
        image_size: side of the square images in pixels (32..172; default 96).
        seed: the window seed (sizes, positions); the labels and split do not depend on it.
        transform: applied to the PIL image; None returns the PIL image.

    Items are ``(transform(image), label)``, ``label`` an int in 0..9. ``window_ids`` holds each image's
    ``(label, i)``.
    """

    def __init__(self, *, split: str = "train", image_size: int = PHOTO_CROPS_DEFAULT_SIZE, seed: int = 0,
                 transform: Callable | None = None):
        check_size_and_seed(image_size, seed, minimum_size=PHOTO_CROPS_MIN_SIZE, maximum_size=PHOTO_CROPS_MAX_SIZE)
        check_choice("split", split, ("train", "val"))
        images, labels = _cut_split(split, image_size, seed)  # images (n, S, S, 3) uint8, read-only
        self.window_ids = window_ids(split)
        super().__init__(images, labels, PHOTO_NAMES, transform)


@lru_cache(maxsize=4)
def _cut_split(split: str, image_size: int, seed: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """The windows of ``split``: ``(images (n, S, S, 3) uint8, read-only; labels)``, once per process and arguments.

    Why cached: a training run builds the train split up to twice (training and kNN transforms) and the val split
    once, and a notebook trains dozens of runs in one kernel; cutting 1440 windows costs about half a second each
    time while the result depends only on the arguments. Read-only, so that no user of one data set can change
    another's pixels.
    """
    photos = [load_bundled_photo(name) for name in PHOTO_NAMES]
    windows = window_ids(split)
    images = np.stack([zoomed_square_crop(photos[label], image_size, MAX_CROP_ZOOM,
                                          np.random.default_rng((seed, label, window)))
                       for label, window in windows])
    images.setflags(write=False)
    return images, tuple(label for label, _ in windows)


def build_photo_crops(*, root, split: str, transform, download: bool, on_corrupt: str,
                      image_size: int = PHOTO_CROPS_DEFAULT_SIZE, seed: int = 0):
    """Registry builder; ``root``, ``download`` and ``on_corrupt`` do not apply to the embedded set."""
    del root, download, on_corrupt
    return PhotoCropsDataset(split=split, image_size=image_size, seed=seed, transform=transform)
