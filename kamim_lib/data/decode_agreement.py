"""How far the device's JPEG decode and crop (``decode_on_device``) are from the CPU's, in grey levels.

One place for the measures used by the device suite's correctness checks, ``benchmarks/jpeg_decode_agreement.py``
and the tests. They separate the two steps of the device path, because they differ for different reasons:

- decoding: nvJPEG (torchvision ``decode_jpeg(device="cuda")``) vs libjpeg-turbo (the CPU path; what PIL and the
  original code use). Measured on an H100 (``results/benchmarks/jpeg_decode_agreement_h100.txt``): identical for
  4:4:4 JPEGs; for 4:2:0 chroma-subsampled JPEGs (PIL's default, what cameras and ImageNet use) the chroma
  upsampling differs, up to ~50 grey levels at colour edges, mean ~0.7.
- cropping: torchvision's bilinear resize on the device vs on the CPU, from the same decoded image: within 1 grey
  level (float vs uint8 arithmetic).

    windows = photo_jpegs(8, "4:4:4")                       # [(N,) uint8 JPEG bytes]
    decode_difference(windows, "cuda")                      # {"max": 0, "mean": 0.0, "share_over_1": 0.0}
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from kamim_lib.sample_photos import PHOTO_NAMES, load_photo
from kamim_lib.data.device_pipeline import crop_resize_flip

#: JPEG chroma subsamplings PIL writes (4:2:0 is its default at quality <= 94, and what cameras use).
CHROMA_SUBSAMPLINGS = ("4:4:4", "4:2:0")


def photo_jpegs(count: int, subsampling: str, *, quality: int = 90, seed: int = 0) -> list[torch.Tensor]:
    """``count`` JPEG files (in memory) of random half-size windows of the bundled photos.

    Args:
        count: how many (the photos are used round-robin).
        subsampling: one of :data:`CHROMA_SUBSAMPLINGS`.
        quality: JPEG quality.
        seed: the windows.

    Returns:
        list of (N,) uint8 tensors, the encoded bytes (what ``decode_jpeg`` takes).
    """
    if subsampling not in CHROMA_SUBSAMPLINGS:
        raise ValueError(f"subsampling={subsampling!r} is not one of {', '.join(CHROMA_SUBSAMPLINGS)}.")
    rng = np.random.default_rng(seed)
    out = []
    for index in range(count):
        photo = load_photo(PHOTO_NAMES[index % len(PHOTO_NAMES)])
        height, width = photo.shape[:2]
        top, left = int(rng.integers(0, height // 2)), int(rng.integers(0, width // 2))
        window = Image.fromarray(photo[top:top + height // 2, left:left + width // 2])
        buffer = io.BytesIO()
        window.save(buffer, format="JPEG", quality=quality, subsampling=subsampling)
        out.append(torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8))
    return out


def grey_difference(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> dict:
    """Pixel-value difference of paired uint8 images (any shapes, equal within a pair), pooled over all values.

    Returns:
        ``{"max": int, "mean": float, "share_over_1": float}``: the largest absolute difference in grey levels,
        the mean absolute difference, and the fraction of values off by more than one grey level.
    """
    if len(first) != len(second) or not len(first):
        raise ValueError(f"need the same positive number of images on both sides, got {len(first)} and "
                         f"{len(second)}.")
    delta = torch.cat([(a.cpu().int() - b.cpu().int()).abs().flatten() for a, b in zip(first, second)])
    return {"max": int(delta.max()), "mean": round(float(delta.float().mean()), 4),
            "share_over_1": round(float((delta > 1).float().mean()), 5)}


def decode_rgb(encoded: Sequence[torch.Tensor], device: torch.device | str) -> list[torch.Tensor]:
    """Decode JPEG bytes to RGB on ``device`` (nvJPEG on CUDA, libjpeg-turbo on the CPU), as the device path does.

    Returns:
        list of (3, H, W) uint8 tensors on ``device``.
    """
    from torchvision.io import ImageReadMode, decode_jpeg

    return list(decode_jpeg(list(encoded), mode=ImageReadMode.RGB, device=torch.device(device)))


def decode_difference(encoded: Sequence[torch.Tensor], device: torch.device | str) -> dict:
    """:func:`grey_difference` of the same JPEG bytes decoded on ``device`` and on the CPU."""
    return grey_difference(decode_rgb(encoded, device), decode_rgb(encoded, "cpu"))


def crop_difference(images: Sequence[torch.Tensor], params: Sequence[Sequence[int]], img_size: int,
                    device: torch.device | str) -> dict:
    """:func:`grey_difference` of the same images cropped (:func:`crop_resize_flip`) on ``device`` and on the CPU.

    Args:
        images: (3, H, W) uint8 CPU tensors (decoded on the CPU, so only the crop kernel differs).
        params: one crop-parameter row per image (:data:`~kamim_lib.data.device_pipeline.CROP_PARAM_FIELDS`).
        img_size: output side.
    """
    device = torch.device(device)
    on_device = [crop_resize_flip(image.to(device), row, img_size) for image, row in zip(images, params)]
    on_cpu = [crop_resize_flip(image, row, img_size) for image, row in zip(images, params)]
    return grey_difference(on_device, on_cpu)
