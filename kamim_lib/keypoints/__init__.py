"""Keypoint maps for KAMIM (SPEC §1.2): FAST, SIFT and ORB through OpenCV, and a batched torch FAST.

Main entry point::

    kmap = keypoint_map(images)                    # uint8 (B, 3, H, W) RGB -> float32 (B, 1, H, W) of 0/1
    kmap = keypoint_map(images, backend="torch")   # same result, on the images' device (CPU, CUDA, XLA)

- ``detector``: "fast" (OpenCV defaults: threshold 10, non-max suppression, 9/16), "sift" (OpenCV defaults),
  "orb" (nfeatures 500). Settings are keyword arguments (``threshold=20``, ``nfeatures=1000``...).
- ``mode="faithful"`` reproduces the original code bit for bit, including two quirks: the RGB array is converted to
  gray as if it were BGR (0.114 R + 0.587 G + 0.299 B), and each keypoint is drawn as cv2.drawKeypoints' ring of
  radius 3 (48 pixels in a 9x9 box, keypoint pixel itself unlit). ``mode="points"`` marks keypoint pixels only,
  on a correct RGB grayscale.
- ``backend="torch"`` (FAST only) reproduces OpenCV exactly: same grayscale (integer fixed point), same corners
  (strict threshold test, 3-pixel border, cornerScore, 3x3 non-max suppression with ties suppressing both), same
  rings. Static shapes, no host synchronisation.

Lower-level pieces: :func:`to_gray`, :func:`fast_corners_torch`, :func:`fast_contrast_torch`, :func:`draw_rings`,
:data:`RING_STAMP_9X9`, :func:`create_opencv_detector`, :func:`detect_keypoints_opencv`,
:func:`draw_keypoints_opencv`, and the accepted names :data:`DETECTORS`, :data:`MAP_MODES`, :data:`BACKENDS`.
"""
from kamim_lib.keypoints.choices import BACKENDS, DETECTOR_BACKENDS, DETECTORS, FAST_TYPES, MAP_MODES
from kamim_lib.keypoints.fast_torch import (FAST_CIRCLE_OFFSETS, check_fast_threshold, fast_contrast_torch,
                                            fast_corners_torch)
from kamim_lib.keypoints.grayscale import GRAY_SHIFT, GRAY_WEIGHTS, to_gray
from kamim_lib.keypoints.maps import keypoint_map
from kamim_lib.keypoints.opencv_detect import (create_opencv_detector, detect_keypoints_opencv, detect_opencv,
                                               draw_keypoints_opencv, keypoint_coordinates,
                                               points_map_from_coordinates)
from kamim_lib.keypoints.params import DETECTOR_DEFAULTS, DETECTOR_PARAMS, resolve_detector_params
from kamim_lib.keypoints.rings import RING_RADIUS, RING_STAMP_9X9, draw_rings, ring_stamp

__all__ = [
    "BACKENDS", "DETECTORS", "DETECTOR_BACKENDS", "DETECTOR_DEFAULTS", "DETECTOR_PARAMS", "FAST_CIRCLE_OFFSETS",
    "FAST_TYPES", "GRAY_SHIFT", "GRAY_WEIGHTS", "MAP_MODES", "RING_RADIUS", "RING_STAMP_9X9",
    "check_fast_threshold", "create_opencv_detector", "detect_keypoints_opencv", "detect_opencv",
    "draw_keypoints_opencv", "draw_rings", "fast_contrast_torch", "fast_corners_torch", "keypoint_coordinates", "keypoint_map",
    "points_map_from_coordinates", "resolve_detector_params", "ring_stamp", "to_gray",
]
