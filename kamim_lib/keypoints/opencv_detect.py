"""OpenCV detectors and drawing, one image at a time: the reference the torch backend is tested against.

OpenCV is imported inside the functions, so the torch backend works where OpenCV is not installed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kamim_lib.keypoints.params import resolve_detector_params

# Channel 0 of the drawing, as the original reads it: drawKeypoints(..., color=(255, 0, 0))[:, :, 0].
_DRAW_COLOR = (255, 0, 0)


def create_opencv_detector(detector: str = "fast", **params: Any):
    """An OpenCV ``Feature2D`` for ``detector`` with the defaults of ``DETECTOR_DEFAULTS`` overridden by ``params``.

    Args:
        detector: "fast", "sift" or "orb".
        **params: see ``DETECTOR_PARAMS`` (FAST: threshold, nonmax, fast_type; SIFT/ORB: OpenCV's names).

    Returns:
        ``cv2.FastFeatureDetector``, ``cv2.SIFT`` or ``cv2.ORB``.
    """
    import cv2

    settings = resolve_detector_params(detector, params)
    try:
        if detector == "fast":
            fast_type = getattr(cv2, f"FastFeatureDetector_TYPE_{settings['fast_type']}")
            return cv2.FastFeatureDetector_create(settings["threshold"], settings["nonmax"], fast_type)
        if detector == "sift":
            return cv2.SIFT_create(**settings)
        return cv2.ORB_create(**settings)
    except (cv2.error, TypeError, OverflowError) as error:
        raise ValueError(f"detector_params {params!r} rejected by OpenCV for detector={detector!r}: {error}") from error


def _check_gray_array(gray) -> None:
    if not isinstance(gray, np.ndarray) or gray.dtype != np.uint8 or gray.ndim != 2:
        shape = getattr(gray, "shape", type(gray).__name__)
        raise ValueError(f"gray must be a numpy uint8 array of shape (H, W), got {shape} {getattr(gray, 'dtype', '')}.")


def detect_opencv(gray: np.ndarray, detector_object) -> tuple:
    """Keypoints of one grayscale image (``cv2.KeyPoint`` objects, as ``detector_object.detect`` returns them).

    Args:
        gray: uint8 (H, W).
        detector_object: from :func:`create_opencv_detector`.
    """
    _check_gray_array(gray)
    return detector_object.detect(gray, None)


def detect_keypoints_opencv(gray: np.ndarray, detector: str = "fast", **params: Any) -> np.ndarray:
    """Keypoint coordinates of one grayscale image.

    Args:
        gray: uint8 (H, W).
        detector: "fast", "sift" or "orb".
        **params: detector settings (see :func:`create_opencv_detector`).

    Returns:
        float32 (N, 2) of (x, y) = (column, row); integers for FAST, sub-pixel for SIFT and ORB.
    """
    return keypoint_coordinates(detect_opencv(gray, create_opencv_detector(detector, **params)))


def keypoint_coordinates(keypoints) -> np.ndarray:
    """float32 (N, 2) of (x, y) from a sequence of ``cv2.KeyPoint``."""
    import cv2

    if len(keypoints) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    return np.asarray(cv2.KeyPoint_convert(keypoints), dtype=np.float32).reshape(-1, 2)


def draw_keypoints_opencv(keypoints, height: int, width: int) -> np.ndarray:
    """The original's map: ``cv2.drawKeypoints`` on a black canvas, channel 0, binarised.

    Args:
        keypoints: sequence of ``cv2.KeyPoint`` (sub-pixel positions are drawn at OpenCV's 1/16-pixel precision,
            so the ring's shape depends on the fraction: 48 lit pixels for integer positions, up to ~59 otherwise).
        height: image height H.
        width: image width W.

    Returns:
        bool (H, W).
    """
    import cv2

    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    return cv2.drawKeypoints(canvas, keypoints, None, color=_DRAW_COLOR)[:, :, 0] > 0


def points_map_from_coordinates(coordinates: np.ndarray, height: int, width: int) -> np.ndarray:
    """Mark the pixel nearest to each keypoint ("points" mode).

    Args:
        coordinates: float (N, 2) of (x, y).
        height: image height H.
        width: image width W.

    Returns:
        bool (H, W), True at round(y), round(x) (halves round up), clipped into the image.
    """
    point_map = np.zeros((height, width), dtype=bool)
    if len(coordinates):
        pixels = np.floor(np.asarray(coordinates, dtype=np.float64) + 0.5).astype(np.int64)
        columns = np.clip(pixels[:, 0], 0, width - 1)
        rows = np.clip(pixels[:, 1], 0, height - 1)
        point_map[rows, columns] = True
    return point_map
