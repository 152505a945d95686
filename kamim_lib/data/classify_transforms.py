"""Transforms for fine-tuning, linear probing and evaluation (PIL image -> normalised float tensor).

Every transform first turns the image into a (3, H, W) uint8 tensor, as the original does (``ToImage`` +
``ToDtype(uint8)``), so resampling, TrivialAugmentWide and RandomErasing act on uint8 tensors exactly as there.

Evaluation (SPEC 1.6), the geometry chosen by ``resize`` (config key ``eval_resize``):

- ``"squash"`` (the original, the default): ``Resize((img_size, img_size))``, bilinear, **no** antialias: the whole
  image squashed to a square, nothing cropped;
- ``"shorter_side_crop"``: shorter side to ``img_size`` (bilinear, antialiased), then a centre crop.

then to float on 0..1 and ImageNet normalisation.

Fine-tune training (SPEC 1.6: TrivialAugmentWide, RandomErasing, then MixUp/CutMix per batch on the device with
:class:`~kamim_lib.data.MixupCutmix`), in this order:

1. the geometry, chosen by ``crop``:

   - ``"resize"`` (the original's, the default): the evaluation geometry above (``resize``); no random crop, no
     flip, so training and evaluation see objects at the same scale;
   - ``"random_resized_crop"`` (the timm/SimMIM fine-tune recipe): ``RandomResizedCrop(img_size, scale=(0.08, 1),
     ratio=(3/4, 4/3))``, bilinear, antialiased, then ``RandomHorizontalFlip(0.5)``;

2. ``TrivialAugmentWide()`` (one random op of random strength per image, torchvision defaults);
3. RandomErasing, chosen by ``random_erasing``:

   - ``"black"`` (the original, the default): torchvision's ``RandomErasing()`` defaults on the uint8 image
     (p 0.5, scale (0.02, 1/3), ratio (0.3, 3.3), value 0): black rectangles, before normalisation;
   - ``"noise"``: ``RandomErasing(p=0.25, value="random")`` after normalisation, per-pixel normal noise
     (SimMIM/BEiT's ``reprob=0.25``, ``remode="pixel"``);
   - ``"none"``;

4. to float on 0..1, ImageNet normalisation (the noise erasing comes after this step).
"""
from __future__ import annotations

import torch
from torchvision.transforms import InterpolationMode, v2

from kamim_lib._validation import check_choice, check_positive
from kamim_lib.data.normalization import IMAGENET_MEAN, IMAGENET_STD

# The choices of each step (config keys finetune_crop, eval_resize, random_erasing; kamim_lib.config.schema imports
# them from here). Geometry of the fine-tune augmentation: the original's Resize (no crop) or timm/SimMIM's
# RandomResizedCrop.
FINETUNE_CROPS = ("resize", "random_resized_crop")
# Square geometry of evaluation (and of finetune_crop=resize): the original's squash to img_size x img_size
# (Resize((s, s)), no antialias, nothing cropped) or the shorter side to img_size + centre crop (antialiased).
EVAL_RESIZES = ("squash", "shorter_side_crop")
# RandomErasing of augment=finetune: torchvision's defaults on the uint8 image (p 0.5, black; the original), per-pixel
# normal noise with p 0.25 after normalisation (SimMIM/BEiT's reprob 0.25, remode pixel), or none.
RANDOM_ERASINGS = ("black", "noise", "none")
FINETUNE_CROP_SCALE = (0.08, 1.0)
FINETUNE_CROP_RATIO = (3 / 4, 4 / 3)
NOISE_ERASING_PROB = 0.25  # SimMIM/BEiT's reprob; the original's "black" erasing uses torchvision's p=0.5

__all__ = ["EVAL_RESIZES", "FINETUNE_CROPS", "RANDOM_ERASINGS", "build_eval_transform", "build_finetune_transform",
           "build_probe_transform", "square_geometry"]


def _check_size(img_size) -> None:
    if not isinstance(img_size, int):
        raise ValueError(f"img_size must be an int, got {img_size!r}.")
    check_positive("img_size", img_size)


def _to_normalised_float() -> list:
    """uint8 (3, H, W) -> float on 0..1 -> ImageNet-normalised."""
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def square_geometry(img_size: int, resize: str = "squash") -> list:
    """The deterministic steps that make an image ``img_size`` x ``img_size`` (see the module docstring).

    Args:
        img_size: output side in pixels.
        resize: "squash" (the original: Resize((s, s)), bilinear, no antialias) or "shorter_side_crop".

    Returns:
        A list of torchvision v2 transforms for a uint8 (3, H, W) tensor.
    """
    _check_size(img_size)
    check_choice("resize", resize, EVAL_RESIZES)
    if resize == "squash":
        return [v2.Resize((img_size, img_size), interpolation=InterpolationMode.BILINEAR, antialias=False)]
    return [v2.Resize(img_size, interpolation=InterpolationMode.BILINEAR, antialias=True), v2.CenterCrop(img_size)]


def build_finetune_transform(img_size: int = 192, *, crop: str = "resize", resize: str = "squash",
                             scale: tuple[float, float] = FINETUNE_CROP_SCALE,
                             ratio: tuple[float, float] = FINETUNE_CROP_RATIO, hflip_prob: float | None = None,
                             trivial_augment: bool = True, random_erasing: str = "black") -> v2.Compose:
    """Training transform for fine-tuning (see the module docstring for each step).

    Args:
        img_size: output side in pixels.
        crop: "resize" (the ``resize`` geometry, the original's recipe) or "random_resized_crop"
            (RandomResizedCrop + flip, timm/SimMIM); config key ``finetune_crop``.
        resize: geometry of ``crop="resize"``: "squash" (the original) or "shorter_side_crop"; config key
            ``eval_resize``.
        scale, ratio: RandomResizedCrop ranges (``crop="random_resized_crop"`` only).
        hflip_prob: horizontal flip probability; None: 0.5 with "random_resized_crop", 0 with "resize" (the
            original does not flip).
        trivial_augment: apply TrivialAugmentWide.
        random_erasing: "black" (the original), "noise" or "none"; config key ``random_erasing``.

    Returns:
        Callable PIL RGB image (or uint8 (3, H, W) tensor) -> (3, img_size, img_size) float32, ImageNet-normalised.

    Raises:
        ValueError: unknown ``crop``, ``resize`` or ``random_erasing``, ``img_size`` not a positive int,
            ``hflip_prob`` outside [0, 1].
    """
    _check_size(img_size)
    check_choice("crop", crop, FINETUNE_CROPS)
    check_choice("random_erasing", random_erasing, RANDOM_ERASINGS)
    if hflip_prob is None:
        hflip_prob = 0.5 if crop == "random_resized_crop" else 0.0
    if not 0.0 <= hflip_prob <= 1.0:
        raise ValueError(f"hflip_prob must be in [0, 1], got {hflip_prob!r}.")
    steps = [v2.PILToTensor()]
    if crop == "resize":
        steps += square_geometry(img_size, resize)
    else:
        steps.append(v2.RandomResizedCrop(img_size, scale=tuple(scale), ratio=tuple(ratio),
                                          interpolation=InterpolationMode.BILINEAR, antialias=True))
    if hflip_prob > 0:
        steps.append(v2.RandomHorizontalFlip(hflip_prob))
    if trivial_augment:
        steps.append(v2.TrivialAugmentWide())
    if random_erasing == "black":
        steps.append(v2.RandomErasing())  # torchvision's defaults on uint8: p 0.5, value 0
    steps += _to_normalised_float()
    if random_erasing == "noise":
        steps.append(v2.RandomErasing(p=NOISE_ERASING_PROB, scale=(0.02, 1 / 3), ratio=(0.3, 3.3), value="random"))
    return v2.Compose(steps)


def build_probe_transform(img_size: int = 192) -> v2.Compose:
    """Light training transform for linear probing: RandomResizedCrop (scale 0.08-1) + horizontal flip + normalise.

    (The original probes with the fine-tune transform; this is the ``augment=probe`` option.)

    Returns:
        Callable PIL RGB image -> (3, img_size, img_size) float32, ImageNet-normalised.
    """
    return build_finetune_transform(img_size, crop="random_resized_crop", trivial_augment=False,
                                    random_erasing="none")


def build_eval_transform(img_size: int = 192, *, resize: str = "squash") -> v2.Compose:
    """Evaluation transform: the ``resize`` geometry ("squash": the original's ``Resize((img_size, img_size),
    antialias=False)``) on the uint8 image, then normalise.

    Returns:
        Callable PIL RGB image (or uint8 (3, H, W) tensor) -> (3, img_size, img_size) float32, ImageNet-normalised.
    """
    return v2.Compose([v2.PILToTensor(), *square_geometry(img_size, resize), *_to_normalised_float()])
