"""Transforms for fine-tuning, linear probing and evaluation (PIL image -> normalised float tensor).

Fine-tune training (SPEC 1.6: TrivialAugmentWide, RandomErasing, then MixUp/CutMix per batch on the device with
:class:`~kamim_lib.data.MixupCutmix`), in this order:

1. the geometry, chosen by ``crop``:

   - ``"resize"`` (the original's fine-tune transform, which starts with ``Resize(192)``): shorter side resized
     to ``img_size`` (bilinear), then a centre crop to ``img_size`` x ``img_size`` so that non-square images batch;
     no random crop, no flip. A square image keeps all of its content; this is the evaluation geometry, so
     training and evaluation see objects at the same scale;
   - ``"random_resized_crop"`` (the timm/SimMIM fine-tune default): ``RandomResizedCrop(img_size, scale=(0.08, 1),
     ratio=(3/4, 4/3))``, bilinear, then ``RandomHorizontalFlip(0.5)``;

2. ``TrivialAugmentWide()`` (one random op of random strength per image, torchvision defaults);
3. to float on 0..1, ImageNet normalisation;
4. ``RandomErasing(p=0.25, scale=(0.02, 1/3), ratio=(0.3, 3.3), value="random")``: one rectangle per image, with
   probability 0.25, filled with per-pixel normal noise in normalised space (SimMIM/BEiT's ``reprob=0.25``,
   ``remode="pixel"``).

Evaluation (SPEC 1.6: "Resize 192, normalise"): shorter side resized to ``img_size`` (bilinear), centre crop to
``img_size`` x ``img_size`` so non-square images batch, normalise.
"""
from __future__ import annotations

import torch
from torchvision.transforms import InterpolationMode, v2

from .._validation import check_choice, check_positive
from .normalization import IMAGENET_MEAN, IMAGENET_STD

FINETUNE_CROP_SCALE = (0.08, 1.0)
FINETUNE_CROP_RATIO = (3 / 4, 4 / 3)
RANDOM_ERASING_PROB = 0.25
FINETUNE_CROPS = ("resize", "random_resized_crop")


def _to_normalised_float() -> list:
    return [v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def _check_size(img_size) -> None:
    if not isinstance(img_size, int):
        raise ValueError(f"img_size must be an int, got {img_size!r}.")
    check_positive("img_size", img_size)


def _resize_geometry(img_size: int) -> list:
    """Shorter side to ``img_size``, centre crop to a square (a square image is only rescaled)."""
    return [v2.Resize(img_size, interpolation=InterpolationMode.BILINEAR, antialias=True), v2.CenterCrop(img_size)]


def build_finetune_transform(img_size: int = 192, *, crop: str = "random_resized_crop",
                             scale: tuple[float, float] = FINETUNE_CROP_SCALE,
                             ratio: tuple[float, float] = FINETUNE_CROP_RATIO, hflip_prob: float | None = None,
                             trivial_augment: bool = True, re_prob: float = RANDOM_ERASING_PROB) -> v2.Compose:
    """Training transform for fine-tuning (see the module docstring for each step).

    Args:
        img_size: output side in pixels.
        crop: "resize" (Resize + CenterCrop, the original's recipe; the engine's default through the
            ``finetune_crop`` key) or "random_resized_crop" (RandomResizedCrop + flip, timm/SimMIM).
        scale, ratio: RandomResizedCrop ranges (``crop="random_resized_crop"`` only).
        hflip_prob: horizontal flip probability; None: 0.5 with "random_resized_crop", 0 with "resize" (the
            original does not flip).
        trivial_augment: apply TrivialAugmentWide.
        re_prob: RandomErasing probability (0 disables it).

    Returns:
        Callable PIL RGB image -> (3, img_size, img_size) float32, ImageNet-normalised.

    Raises:
        ValueError: unknown ``crop``, ``img_size`` not a positive int, ``hflip_prob`` or ``re_prob`` outside [0, 1].
    """
    _check_size(img_size)
    check_choice("crop", crop, FINETUNE_CROPS)
    if hflip_prob is None:
        hflip_prob = 0.5 if crop == "random_resized_crop" else 0.0
    for name, value in (("hflip_prob", hflip_prob), ("re_prob", re_prob)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}.")
    if crop == "resize":
        steps = _resize_geometry(img_size)
    else:
        steps = [v2.RandomResizedCrop(img_size, scale=tuple(scale), ratio=tuple(ratio),
                                      interpolation=InterpolationMode.BILINEAR, antialias=True)]
    if hflip_prob > 0:
        steps.append(v2.RandomHorizontalFlip(hflip_prob))
    if trivial_augment:
        steps.append(v2.TrivialAugmentWide())
    steps += _to_normalised_float()
    if re_prob > 0:
        steps.append(v2.RandomErasing(p=re_prob, scale=(0.02, 1 / 3), ratio=(0.3, 3.3), value="random"))
    return v2.Compose(steps)


def build_probe_transform(img_size: int = 192) -> v2.Compose:
    """Light training transform for linear probing: RandomResizedCrop (scale 0.08-1) + horizontal flip + normalise.

    Returns:
        Callable PIL RGB image -> (3, img_size, img_size) float32, ImageNet-normalised.
    """
    return build_finetune_transform(img_size, crop="random_resized_crop", trivial_augment=False, re_prob=0.0)


def build_eval_transform(img_size: int = 192) -> v2.Compose:
    """Evaluation transform: Resize(img_size) (shorter side, bilinear) + CenterCrop(img_size) + normalise.

    Returns:
        Callable PIL RGB image -> (3, img_size, img_size) float32, ImageNet-normalised.
    """
    _check_size(img_size)
    return v2.Compose([*_resize_geometry(img_size), *_to_normalised_float()])
