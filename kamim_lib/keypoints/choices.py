"""Names accepted by :func:`kamim_lib.keypoints.keypoint_map`, shared with config validation."""
from __future__ import annotations

#: Keypoint detectors (all through OpenCV; ``"fast"`` also has a torch backend).
DETECTORS: tuple[str, ...] = ("fast", "sift", "orb")

#: Keypoint map modes. ``"faithful"`` reproduces the original code (BGR grayscale quirk, drawn rings);
#: ``"points"`` marks the keypoint pixels only, on a correctly weighted RGB grayscale.
MAP_MODES: tuple[str, ...] = ("faithful", "points")

#: ``"opencv"``: the reference, on the CPU, any detector. ``"torch"``: FAST only, on the images' device.
BACKENDS: tuple[str, ...] = ("opencv", "torch")

#: Backends that can run each detector.
DETECTOR_BACKENDS: dict[str, tuple[str, ...]] = {"fast": ("opencv", "torch"), "sift": ("opencv",), "orb": ("opencv",)}

#: FAST circle variants (OpenCV's ``FastFeatureDetector_TYPE_*``): "9_16" = 9 contiguous of a 16-pixel circle.
FAST_TYPES: tuple[str, ...] = ("9_16", "7_12", "5_8")

#: Detectors that can run on the training device (the batched torch backend).
DEVICE_DETECTORS: tuple[str, ...] = tuple(name for name, backends in DETECTOR_BACKENDS.items() if "torch" in backends)
