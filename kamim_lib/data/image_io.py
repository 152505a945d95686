"""Read any image file as an 8-bit RGB PIL image, or fail with an error that names the file.

Mode policy (what :func:`to_rgb` does with each Pillow mode):

- ``RGB``: returned unchanged.
- ``L``, ``1``, ``CMYK``, ``YCbCr`` and other colour modes: Pillow's own conversion (grey is replicated to three
  channels; CMYK, including Adobe's inverted CMYK JPEGs, goes through Pillow's CMYK decoder).
- ``RGBA``, ``LA``, ``PA``, ``P`` with a transparency entry: the alpha channel is **dropped** (the stored colours
  are kept, nothing is composited). This is what torchvision's and timm's default loaders do, so pixel values match
  pipelines built on them (the original KAMIM code used torchvision's loader).
- 16-bit and 32-bit integer greys (``I;16``, ``I;16B``, ``I;16L``, ``I;16N``, ``I``): read as 16-bit intensities
  (values clipped to 0..65535) and rescaled to 0..255 by ``round(v * 255 / 65535)``. Pillow's plain
  ``convert("RGB")`` would clip them at 255 and turn almost every 16-bit image white.
- ``F`` (32-bit float grey): values rounded and clipped to 0..255.

EXIF orientation tags are not applied (neither does torchvision's loader), so pixels match the usual pipelines.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

# Pillow modes that hold integer intensities wider than 8 bits.
_WIDE_INTEGER_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# Modes with an alpha channel (or a palette transparency entry) whose alpha we drop.
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


class CorruptImageError(RuntimeError):
    """An image file that cannot be decoded (truncated, not an image, unsupported mode, unreadable).

    Attributes:
        path: the offending file, or None when unknown.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        # A single-message constructor keeps the exception re-creatable by torch's DataLoader, which re-raises
        # worker errors as ``type(error)(message)``.
        super().__init__(message)
        self.path = None if path is None else str(path)


def _wide_grey_to_uint8(image: Image.Image) -> np.ndarray:
    """(H, W) uint8 from a 16/32-bit integer grey image, 65535 -> 255 with rounding."""
    values = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
    return ((values * 255 + 65535 // 2) // 65535).astype(np.uint8)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert a decoded PIL image of any mode to 8-bit RGB (see the module docstring for the policy).

    Args:
        image: a PIL image whose pixels are loaded.

    Returns:
        A PIL image of mode ``"RGB"`` and the same size (the input itself when it already is RGB).

    Raises:
        ValueError: if Pillow cannot convert the mode to RGB.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _WIDE_INTEGER_MODES:
        grey = _wide_grey_to_uint8(image)
        return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        # Through RGBA so Pillow applies the palette transparency cleanly (no "transparency expressed in bytes"
        # warning); then the alpha band is dropped.
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def load_rgb_image(path: str | os.PathLike) -> Image.Image:
    """Decode an image file fully and return it as an 8-bit RGB PIL image.

    The whole file is decoded here (not lazily), so a truncated or corrupt file fails now, inside this function,
    with the path in the message, rather than later inside a transform with a bare Pillow traceback. Pillow's
    global ``LOAD_TRUNCATED_IMAGES`` switch is left alone: a truncated file is an error, not a grey stripe.

    Args:
        path: an image file of any format Pillow reads.

    Returns:
        PIL image, mode ``"RGB"``, 8 bits per channel.

    Raises:
        CorruptImageError: the file is missing, unreadable, not an image, truncated, or of a mode that cannot be
            converted to RGB. ``error.path`` is the file.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, ... on bad files.
        raise CorruptImageError(f"cannot read image file {path}: {type(error).__name__}: {error}",
                                path=path) from error
