"""The keypoint map F of SPEC §1.2: one 0/1 plane per image, from which KAMIM computes its patch weights."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kamim_lib._validation import check_choice, check_uint8_images
from kamim_lib.keypoints._chunking import batch_chunks, concat_chunks
from kamim_lib.keypoints.choices import BACKENDS, DETECTOR_BACKENDS, DETECTORS, MAP_MODES
from kamim_lib.keypoints.fast_torch import fast_corners_torch
from kamim_lib.keypoints.grayscale import to_gray
from kamim_lib.keypoints.opencv_detect import (create_opencv_detector, detect_opencv, draw_keypoints_opencv,
                                               keypoint_coordinates, points_map_from_coordinates)
from kamim_lib.keypoints.params import resolve_detector_params
from kamim_lib.keypoints.rings import draw_rings


def keypoint_map(images: torch.Tensor, detector: str = "fast", mode: str = "faithful", backend: str = "opencv",
                 **detector_params: Any) -> torch.Tensor:
    """Keypoint map of a batch of (augmented) images.

    Args:
        images: uint8 (B, 3, H, W), RGB, on any device.
        detector: "fast" (default), "sift" or "orb".
        mode: "faithful" = the original exactly: grayscale of the RGB array read as BGR
            (0.114 R + 0.587 G + 0.299 B) and a drawn ring of radius 3 around each keypoint, the keypoint pixel
            itself 0; "points" = 1 at the (rounded) keypoint pixels only, grayscale with the correct RGB weights.
        backend: "opencv" = the reference (per image on the CPU, any detector, the original's own calls);
            "torch" = batched FAST on the images' device (CPU, CUDA, XLA), identical output, "fast" only.
        **detector_params: overrides of the detector defaults: FAST ``threshold`` (10), ``nonmax`` (True),
            ``fast_type`` ("9_16"); SIFT/ORB take cv2.SIFT_create / cv2.ORB_create keyword names
            (ORB ``nfeatures`` defaults to 500).

    Returns:
        float32 (B, 1, H, W) of 0/1 on the images' device.

    Raises:
        ValueError: non-uint8 images, not 3 channels, unknown detector/mode/backend, a detector the backend
            cannot run, or a bad detector setting; the message names the argument.
    """
    check_uint8_images(images)
    check_choice("detector", detector, DETECTORS)
    check_choice("mode", mode, MAP_MODES)
    check_choice("backend", backend, BACKENDS)
    if backend not in DETECTOR_BACKENDS[detector]:
        raise ValueError(f"backend={backend!r} cannot run detector={detector!r} (it runs "
                         f"{', '.join(d for d, b in DETECTOR_BACKENDS.items() if backend in b)} only); "
                         f"use backend='opencv' for {detector!r}.")
    settings = resolve_detector_params(detector, detector_params)
    if backend == "torch":
        if settings["fast_type"] != "9_16":
            raise ValueError(f"fast_type={settings['fast_type']!r} needs backend='opencv'; the torch backend "
                             "implements FAST 9_16 only.")
        return _torch_fast_map(images, mode, settings)
    return _opencv_map(images, detector, mode, settings)


def _torch_fast_map(images: torch.Tensor, mode: str, settings: dict[str, Any]) -> torch.Tensor:
    parts = []
    # One chunk = the whole batch off the CPU; on a CPU the whole pipeline runs per cache-sized chunk.
    for chunk in batch_chunks(images):
        corners = fast_corners_torch(to_gray(chunk, mode), settings["threshold"], settings["nonmax"],
                                     chunk_size=max(1, chunk.shape[0]))
        parts.append(draw_rings(corners) if mode == "faithful" else corners)
    return concat_chunks(parts).unsqueeze(1).to(torch.float32)


def _opencv_map(images: torch.Tensor, detector: str, mode: str, settings: dict[str, Any]) -> torch.Tensor:
    import cv2

    batch, _, height, width = images.shape
    # (B, H, W, 3) in RGB order, as the original's img.permute(1, 2, 0).numpy().
    pixels = images.detach().cpu().permute(0, 2, 3, 1).contiguous().numpy()
    detector_object = create_opencv_detector(detector, **settings)
    # Feature2D.detect converts a 3-channel array with COLOR_BGR2GRAY, which is the original's quirk.
    gray_code = cv2.COLOR_BGR2GRAY if mode == "faithful" else cv2.COLOR_RGB2GRAY
    maps = np.zeros((batch, height, width), dtype=bool)
    for index in range(batch):
        try:
            keypoints = detect_opencv(cv2.cvtColor(pixels[index], gray_code), detector_object)
        except cv2.error as error:  # OpenCV checks most SIFT/ORB settings only when it detects.
            raise ValueError(f"detector={detector!r} failed with detector_params {settings!r}: {error}") from error
        if mode == "faithful":
            maps[index] = draw_keypoints_opencv(keypoints, height, width)
        else:
            maps[index] = points_map_from_coordinates(keypoint_coordinates(keypoints), height, width)
    return torch.from_numpy(maps).unsqueeze(1).to(device=images.device, dtype=torch.float32)
