"""The images an analysis runs on: a seeded random subset of a registered data set, evaluation-transformed."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class AnalysisImages:
    """A fixed set of evaluation images.

    Attributes:
        images: float32 (B, 3, S, S), ImageNet-normalised (Resize S + CenterCrop S, as evaluation).
        labels: int64 (B,), class of each image.
        indices: int64 (B,), each image's index in the data set split (to find them again).
    """

    images: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor


def load_analysis_images(dataset: str, *, num_images: int, img_size: int, root: str | os.PathLike | None = None,
                         split: str = "val", seed: int = 0, **dataset_options) -> AnalysisImages:
    """Draw ``num_images`` images without replacement from a data set split, the same ones for the same seed.

    Args:
        dataset: a registry name (``kamim_lib.data.list_datasets()``), e.g. "digits" (embedded) or "imagenet".
        num_images: how many images (at most the split's size).
        img_size: side S of the square images; the model's ``img_size``.
        root: the data root (not needed for "digits" and "synthetic").
        split: "train" or "val".
        seed: which images are drawn (a permutation of the split from ``torch.Generator().manual_seed(seed)``).
        **dataset_options: passed to ``build_dataset`` (e.g. ``image_size`` for digits).

    Returns:
        ``AnalysisImages``.
    """
    from kamim_lib.data import build_dataset, build_eval_transform

    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images <= 0:
        raise ValueError(f"num_images must be a positive int, got {num_images!r}.")
    data = build_dataset(dataset, root=root, split=split, transform=build_eval_transform(img_size),
                         **dataset_options)
    if num_images > len(data):
        raise ValueError(f"num_images={num_images} but the {dataset!r} {split} split has only {len(data)} images.")
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(data), generator=generator)[:num_images]
    samples = [data[int(index)] for index in indices]
    images = torch.stack([image for image, _ in samples]).float()
    labels = torch.tensor([int(label) for _, label in samples], dtype=torch.int64)
    return AnalysisImages(images, labels, indices.to(torch.int64))


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
    from kamim_lib.masking import random_cell_masks

    generator = torch.Generator().manual_seed(seed)
    return random_cell_masks(num_images, input_size=img_size, mask_patch_size=mask_patch_size,
                             model_patch_size=model_patch_size, mask_ratio=mask_ratio, generator=generator)
