"""The images an analysis runs on: a subset of a registered data set, transformed one of two ways.

``analysis_transform``:

* "eval" — this project's evaluation transform (shorter side resized to S bilinear, centre crop S) on a seeded
  random subset of the split;
* "original" — what the original's analysis notebooks did (SPEC §1.6): timm's ``transforms_imagenet_eval``
  (shorter side resized to ⌊S / 0.875⌋ bilinear — timm's default interpolation, which the original did not
  override; 219 px for S = 192, 256 for 224 — then centre crop S), on the
  first ⌊n_c / 64⌋ images of every class in folder order (their ``subsample(ratio=2**-6)``), of which the first
  batch is used: 64 images for the attention notebook, 16 for the Fourier/t-SNE one (Imagenette-160 validation).
  Imagenette2-160's validation subsample holds 59 images, so the original's attention batch of 64 held all 59:
  when the selection holds fewer images than asked, all of them are taken, and ``AnalysisImages.note`` says so.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torchvision.transforms import InterpolationMode, v2

from kamim_lib._validation import check_choice
from kamim_lib.data import build_dataset, build_eval_transform
from kamim_lib.data.normalization import IMAGENET_MEAN, IMAGENET_STD
from kamim_lib.masking import random_cell_masks

ANALYSIS_TRANSFORMS = ("eval", "original")
# timm's transforms_imagenet_eval default: resize the shorter side to img_size / crop_pct, then centre-crop.
ORIGINAL_CROP_PCT = 0.875
# The original notebooks' subsample(dataset, ratio=2**-6): the first floor(n_c / 64) images of each class.
ORIGINAL_SUBSAMPLE_RATIO = 2.0 ** -6


@dataclass
class AnalysisImages:
    """A fixed set of evaluation images.

    Attributes:
        images: float32 (B, 3, S, S), ImageNet-normalised (Resize S + CenterCrop S, as evaluation).
        labels: int64 (B,), class of each image.
        indices: int64 (B,), each image's index in the data set split (to find them again).
        requested: the number of images asked for (B is smaller when the original's selection holds fewer).
        note: one sentence when B < requested (what was taken and why), else "".
    """

    images: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor
    requested: int | None = None
    note: str = ""


def original_analysis_transform(img_size: int) -> v2.Compose:
    """timm's ``transforms_imagenet_eval(img_size, mean, std)`` as the original called it (no ``interpolation``
    argument, so timm's default, bilinear, in 0.5.4 and today): Resize(⌊S / 0.875⌋, bilinear) of the shorter side
    (PIL's antialiased resize on a PIL image), CenterCrop(S), ImageNet normalisation. PIL RGB image -> float32
    (3, S, S)."""
    return v2.Compose([v2.Resize(math.floor(img_size / ORIGINAL_CROP_PCT), interpolation=InterpolationMode.BILINEAR,
                                 antialias=True),
                       v2.CenterCrop(img_size), v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(list(IMAGENET_MEAN), list(IMAGENET_STD))])


def original_subsample_indices(targets, ratio: float = ORIGINAL_SUBSAMPLE_RATIO) -> list[int]:
    """The original's ``subsample(dataset, ratio)``: per class (in order of first appearance), its first
    ⌊n_c · ratio⌋ indices; classes one after another.

    Args:
        targets: the class of every image of the split, in data set order.
    """
    per_class: dict = {}
    for index, target in enumerate(targets):
        per_class.setdefault(int(target), []).append(index)
    return [index for indices in per_class.values() for index in indices[:int(len(indices) * ratio)]]


def _targets(data) -> list[int]:
    targets = getattr(data, "targets", None)
    if targets is not None:
        return [int(target) for target in targets]
    return [int(data[index][1]) for index in range(len(data))]


def load_analysis_images(dataset: str, *, num_images: int, img_size: int, root: str | os.PathLike | None = None,
                         split: str = "val", seed: int = 0, analysis_transform: str = "eval",
                         **dataset_options) -> AnalysisImages:
    """The analysed images of a data set split: a seeded random subset ("eval"), or the original's selection and
    transform ("original", see the module docstring). The same arguments give the same images.

    Args:
        dataset: a registry name (``kamim_lib.data.list_datasets()``), e.g. "digits" (embedded) or "imagenet".
        num_images: how many images: at most the split's size ("eval"); with "original", the first
            ``num_images`` of the original's selection, or all of it when it holds fewer (as the original's
            DataLoader, whose one batch then held the whole subsample).
        img_size: side S of the square images; the model's ``img_size``.
        root: the data root (not needed for "digits" and "synthetic").
        split: "train" or "val".
        seed: which images are drawn (a permutation of the split from ``torch.Generator().manual_seed(seed)``);
            unused by "original", which takes the first ``num_images`` of its per-class subsample.
        analysis_transform: "eval" or "original".
        **dataset_options: passed to ``build_dataset`` (e.g. ``image_size`` for digits).

    Returns:
        ``AnalysisImages`` of B = min(num_images, selection size) images ("original"; ``note`` says when B is
        smaller) or ``num_images`` images ("eval").
    """
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images <= 0:
        raise ValueError(f"num_images must be a positive int, got {num_images!r}.")
    check_choice("analysis_transform", analysis_transform, ANALYSIS_TRANSFORMS)
    transform = original_analysis_transform(img_size) if analysis_transform == "original" else \
        build_eval_transform(img_size)
    data = build_dataset(dataset, root=root, split=split, transform=transform, **dataset_options)
    if analysis_transform == "original":
        candidates = torch.tensor(original_subsample_indices(_targets(data)), dtype=torch.int64)
        source = f"the original's per-class 1/64 subsample ({len(candidates)} images)"
    else:
        candidates = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
        source = "split"
    note = ""
    if num_images > len(candidates):
        if analysis_transform != "original" or len(candidates) == 0:
            raise ValueError(f"num_images={num_images} but the {dataset!r} {split} {source} has only "
                             f"{len(candidates)} images; lower num_images.")
        note = (f"{len(candidates)} images analysed, not the {num_images} asked: the {dataset!r} {split} {source} "
                f"holds only {len(candidates)}, and the original's loader took them all in its one batch.")
    indices = candidates[:num_images]
    samples = [data[int(index)] for index in indices]
    images = torch.stack([image for image, _ in samples]).float()
    labels = torch.tensor([int(label) for _, label in samples], dtype=torch.int64)
    return AnalysisImages(images, labels, indices.to(torch.int64), requested=num_images, note=note)


def analysis_masks(num_images: int, *, img_size: int, model_patch_size: int, mask_patch_size: int = 32,
                   mask_ratio: float = 0.6, seed: int = 0) -> torch.Tensor:
    """SimMIM random-cell masks for the analysed images, the same for the same seed (give every model these).

    Args:
        num_images: B.
        img_size: image side H.
        model_patch_size: the model's patch size p (the mask grid is H/p).
        mask_patch_size: side of a masked cell in pixels (a multiple of p).
        mask_ratio: share of cells masked (the paper's reconstruction numbers use 0.4).
        seed: the draw.

    Returns:
        int64 (B, H/p, H/p), 1 = masked.
    """
    generator = torch.Generator().manual_seed(seed)
    return random_cell_masks(num_images, input_size=img_size, mask_patch_size=mask_patch_size,
                             model_patch_size=model_patch_size, mask_ratio=mask_ratio, generator=generator)


def images_for_models(models: Mapping[str, torch.nn.Module],
                      load: Callable[[int], AnalysisImages]) -> dict[str, AnalysisImages]:
    """The analysed images at each model's own input size (e.g. 192 px for SimMIM/KAMIM, 224 for MoCo v3).

    Args:
        models: label -> model with an ``img_size``.
        load: img_size -> ``AnalysisImages`` (e.g. ``partial(load_analysis_images, "imagenette", ...)``); called
            once per distinct size, so models of one size share one tensor.

    Returns:
        label -> ``AnalysisImages``.
    """
    by_size: dict[int, AnalysisImages] = {}
    for model in models.values():
        if model.img_size not in by_size:
            by_size[model.img_size] = load(model.img_size)
    return {label: by_size[model.img_size] for label, model in models.items()}
