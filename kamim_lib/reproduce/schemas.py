"""The parameters of each section notebook, as dataclasses checked by ``notebook_parameters``.

Each field is one name in the notebook's ``parameters`` cell; invariants are checked in ``__post_init__``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kamim_lib._validation import check_choice, check_divisible, check_positive
from kamim_lib.reproduce.profiles import list_profiles


def _check_profile(profile: str) -> None:
    if not profile.endswith((".yaml", ".yml")):
        check_choice("profile", profile, list_profiles())


def section_output_dir(output_dir: str | None, profile: str) -> Path:
    """``output_dir`` if given, else ``results/<profile>/``; created if needed."""
    from kamim_lib.reproduce.runner import results_root

    out = Path(output_dir) if output_dir else results_root() / Path(profile).stem
    out.mkdir(parents=True, exist_ok=True)
    return out


@dataclass(frozen=True)
class MethodParams:
    """01_method: the keypoint-weighting figure on bundled photos."""

    profile: str
    photos: list[str]
    img_size: int
    detector: str
    mode: str
    backend: str
    weight_patch_size: int
    temperature: float
    mask_patch_size: int
    model_patch_size: int
    mask_ratio: float
    seed: int
    output_dir: str | None
    force: bool

    def __post_init__(self) -> None:
        from kamim_lib.keypoints import BACKENDS, DETECTORS, MAP_MODES
        from kamim_lib.sample_photos import PHOTO_NAMES

        _check_profile(self.profile)
        for photo in self.photos:
            check_choice("photos", photo, PHOTO_NAMES)
        check_choice("detector", self.detector, DETECTORS)
        check_choice("mode", self.mode, MAP_MODES)
        check_choice("backend", self.backend, BACKENDS)
        check_positive("temperature", self.temperature)
        check_divisible("img_size", self.img_size, "weight_patch_size", self.weight_patch_size)
        check_divisible("img_size", self.img_size, "mask_patch_size", self.mask_patch_size)
        check_divisible("mask_patch_size", self.mask_patch_size, "model_patch_size", self.model_patch_size)
