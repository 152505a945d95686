"""Real photos that ship inside scikit-image, usable offline (no download at run time)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Natural RGB photos bundled with scikit-image's wheel (others in skimage.data need a download).
PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")


def load_photo(name: str) -> np.ndarray:
    """One bundled photo as a uint8 (H, W, 3) RGB array."""
    import skimage.data

    if name not in PHOTO_NAMES:
        raise ValueError(f"photo name {name!r} is not bundled; choose one of {', '.join(PHOTO_NAMES)}.")
    return np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])


def center_square(image: np.ndarray, size: int) -> torch.Tensor:
    """Centre square crop of an (H, W, 3) uint8 array, resized (bilinear, antialiased) to ``size``.

    Returns:
        uint8 tensor (3, size, size), RGB.
    """
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = torch.from_numpy(np.ascontiguousarray(image[top:top + side, left:left + side])).permute(2, 0, 1)
    resized = F.interpolate(crop[None].float(), size=(size, size), mode="bilinear", antialias=True,
                            align_corners=False)[0]
    return resized.round().clamp(0, 255).to(torch.uint8)


def sample_photo_batch(names=PHOTO_NAMES[:4], size: int = 192) -> torch.Tensor:
    """Bundled photos, centre-cropped and resized: uint8 (len(names), 3, size, size), RGB."""
    return torch.stack([center_square(load_photo(name), size) for name in names])
