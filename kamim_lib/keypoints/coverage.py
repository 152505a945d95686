"""Keypoint coverage of a set of images: on how many does each detector find anything (used to choose and check
the embedded data sets, and reported by the detector ablation)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from kamim_lib.keypoints.opencv_detect import create_opencv_detector


def keypoint_coverage(images: np.ndarray, detectors: Sequence[str]) -> dict[str, dict]:
    """How many images each OpenCV detector finds keypoints on (default settings, as KAMIM uses them).

    Args:
        images: uint8 (N, H, W, 3) RGB.
        detectors: names among ``kamim_lib.keypoints.DETECTORS``.

    Returns:
        detector -> ``{"images": N, "with_keypoints": n, "share": n / N, "median_keypoints": m}``.
    """
    import cv2


    coverage = {}
    for detector in detectors:
        finder = create_opencv_detector(detector)
        counts = np.array([len(finder.detect(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), None)) for image in images])
        coverage[detector] = {"images": int(len(images)), "with_keypoints": int((counts > 0).sum()),
                              "share": float((counts > 0).mean()) if len(images) else 0.0,
                              "median_keypoints": float(np.median(counts)) if len(images) else 0.0}
    return coverage
