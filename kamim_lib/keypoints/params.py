"""Detector settings: OpenCV's defaults (as the original used them) and the checks on user overrides."""
from __future__ import annotations

import numbers
from types import MappingProxyType
from typing import Any, Callable, Mapping

from kamim_lib._validation import check_choice
from kamim_lib.keypoints.choices import DETECTORS, FAST_TYPES
from kamim_lib.keypoints.fast_torch import check_fast_threshold

#: Defaults per detector. FAST: OpenCV's FastFeatureDetector defaults (threshold 10, non-max suppression,
#: TYPE_9_16). SIFT: every cv2.SIFT_create default. ORB: cv2.ORB_create defaults (nfeatures 500).
DETECTOR_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "fast": MappingProxyType({"threshold": 10, "nonmax": True, "fast_type": "9_16"}),
    "sift": MappingProxyType({}),
    "orb": MappingProxyType({"nfeatures": 500}),
})

# (integer-only?, predicate, what the predicate asks) per SIFT/ORB setting. OpenCV accepts nearly anything at
# creation and fails later while detecting; some bad ORB values (nlevels=0) even crash the process.
_Rule = tuple[bool, Callable[[Any], bool], str]
_OPENCV_RULES: Mapping[str, Mapping[str, _Rule]] = MappingProxyType({
    "sift": MappingProxyType({
        "nfeatures": (True, lambda v: v >= 0, "an int >= 0 (0 = keep all)"),
        "nOctaveLayers": (True, lambda v: v >= 1, "an int >= 1"),
        "contrastThreshold": (False, lambda v: v >= 0, "a number >= 0"),
        "edgeThreshold": (False, lambda v: v > 0, "a number > 0"),
        "sigma": (False, lambda v: v > 0, "a number > 0"),
    }),
    "orb": MappingProxyType({
        "nfeatures": (True, lambda v: v >= 1, "an int >= 1"),
        "scaleFactor": (False, lambda v: v > 1, "a number > 1"),
        "nlevels": (True, lambda v: v >= 1, "an int >= 1"),
        "edgeThreshold": (True, lambda v: v >= 0, "an int >= 0"),
        "firstLevel": (True, lambda v: v >= 0, "an int >= 0"),
        "WTA_K": (True, lambda v: v in (2, 3, 4), "2, 3 or 4"),
        "scoreType": (True, lambda v: v in (0, 1), "0 (cv2.ORB_HARRIS_SCORE) or 1 (cv2.ORB_FAST_SCORE)"),
        "patchSize": (True, lambda v: v >= 2, "an int >= 2"),
        "fastThreshold": (True, lambda v: 0 <= v <= 255, "an int in [0, 255]"),
    }),
})

#: Keyword arguments accepted per detector. SIFT and ORB take cv2.SIFT_create / cv2.ORB_create's own names.
DETECTOR_PARAMS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "fast": ("threshold", "nonmax", "fast_type"),
    **{detector: tuple(rules) for detector, rules in _OPENCV_RULES.items()},
})


def _check_opencv_setting(name: str, value: Any, rule: _Rule) -> None:
    integer_only, predicate, requirement = rule
    kinds = numbers.Integral if integer_only else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kinds) or not predicate(value):
        raise ValueError(f"{name} must be {requirement}, got {value!r}.")


def resolve_detector_params(detector: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge user settings over the defaults of ``detector`` and check them.

    Args:
        detector: one of ``DETECTORS``.
        params: overrides, e.g. ``{"threshold": 20}`` for FAST or ``{"nfeatures": 1000}`` for ORB.

    Returns:
        The complete settings (a new dict).

    Raises:
        ValueError: unknown detector or parameter name, or a value out of its range (named in the message).
    """
    check_choice("detector", detector, DETECTORS)
    params = dict(params or {})
    unknown = sorted(set(params) - set(DETECTOR_PARAMS[detector]))
    if unknown:
        raise ValueError(f"detector_params {unknown} not accepted by detector={detector!r}; "
                         f"use {', '.join(DETECTOR_PARAMS[detector])}.")
    resolved = {**DETECTOR_DEFAULTS[detector], **params}
    if detector == "fast":
        check_fast_threshold(resolved["threshold"])
        if not isinstance(resolved["nonmax"], bool):
            raise ValueError(f"nonmax must be True or False, got {resolved['nonmax']!r}.")
        check_choice("fast_type", resolved["fast_type"], FAST_TYPES)
    else:
        for name, value in resolved.items():
            _check_opencv_setting(name, value, _OPENCV_RULES[detector][name])
    return resolved
