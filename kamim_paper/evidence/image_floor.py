"""The image-blind floor of reconstruction scores: what a "reconstruction" that ignores the image scores.

The floor predicts, for every image, the per-pixel mean image of the training split (the best constant guess in
squared error). A model whose PSNR/SSIM does not clear this floor has not learnt to use the visible pixels;
the paper's reconstruction numbers (PSNR ≈ 12.1 dB, SSIM ≈ 0.11) are judged against it. Named
``training_mean_image`` / ``image_blind_reconstruction`` (the evidence helper's floor may live elsewhere).
"""
from __future__ import annotations

import os

import torch

from kamim_lib._validation import check_choice, check_positive
from kamim_lib.analysis.collect import Reconstruction
from kamim_lib.analysis.original_metrics import original_reconstruction_metrics
from kamim_lib.analysis.pixels import unnormalize
from kamim_lib.analysis.reconstruction import reconstruction_metrics
from kamim_lib.data import build_dataset, build_eval_transform
from kamim_paper.experiments.analysis_inputs import ANALYSIS_TRANSFORMS, original_analysis_transform

IMAGE_BLIND_FLOOR = "image-blind floor"


def training_mean_image(dataset: str, *, img_size: int, root: str | os.PathLike | None = None,
                        num_images: int = 256, seed: int = 0, analysis_transform: str = "eval") -> torch.Tensor:
    """Per-pixel mean of (a seeded subset of) the training split, in ImageNet-normalised space.

    Args:
        dataset, root: as ``load_analysis_images``.
        img_size: side S of the images.
        num_images: images averaged (at most the split's size).
        seed: which images.
        analysis_transform: "eval" or "original" (the same transform as the analysed images).

    Returns:
        float32 (3, S, S).
    """
    check_choice("analysis_transform", analysis_transform, ANALYSIS_TRANSFORMS)
    check_positive("num_images", num_images)
    transform = original_analysis_transform(img_size) if analysis_transform == "original" else \
        build_eval_transform(img_size)
    data = build_dataset(dataset, root=root, split="train", transform=transform)
    indices = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:num_images]
    total = None
    for index in indices.tolist():
        image = data[index][0].float()
        total = image if total is None else total + image
    return total / len(indices)


def image_blind_reconstruction(mean_image: torch.Tensor, images: torch.Tensor, mask: torch.Tensor, *,
                               max_psnr_db: float | None = 100.0) -> Reconstruction:
    """Score the constant prediction ``mean_image`` against every image, exactly as ``collect.reconstruct`` scores
    a model (kamim's and the original's conventions).

    Args:
        mean_image: normalised (3, H, W), e.g. ``training_mean_image``.
        images: normalised (B, 3, H, W).
        mask: (B, g, g) token mask, the one the models got.

    Returns:
        ``Reconstruction`` whose prediction is the mean image, un-normalised, for every image.
    """
    if mean_image.shape != images.shape[1:]:
        raise ValueError(f"mean_image {tuple(mean_image.shape)} does not match the images {tuple(images.shape[1:])}.")
    prediction = mean_image.to(images).expand_as(images).contiguous()
    metrics = reconstruction_metrics(prediction, images, mask, max_psnr_db=max_psnr_db)
    original = original_reconstruction_metrics(prediction.cpu(), images.cpu())
    return Reconstruction(unnormalize(prediction).cpu(), {k: v.cpu() for k, v in metrics.items()}, original)
