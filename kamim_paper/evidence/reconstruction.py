"""Held-out masked reconstruction error, and the two baselines that say what a value of it means.

The number: the *unweighted* mean absolute error over the masked pixels of validation images (ImageNet-normalised
space, every colour channel), the same masks for every model. Baselines:

- image-blind: one fixed image for every input, the per-pixel median of training crops under the pretraining
  augmentation (the best constant predictor under L1 per pixel); a model that does not beat it has not learnt to
  use the visible pixels;
- random-init: the same architecture, untrained.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from kamim_lib.data import PretrainTransform, build_dataset, normalize_on_device
from kamim_lib.engine.tasks import build_split
from kamim_lib.models import create_model
from kamim_lib.models.registry import model_arch
from kamim_paper.experiments.analysis_inputs import analysis_masks, load_analysis_images


@dataclass(frozen=True)
class HeldOutSet:
    """Validation images and the masks every model is scored with.

    Attributes:
        images: ImageNet-normalised float (N, 3, H, W) (the evaluation transform).
        masks: int64 (N, H/p, H/p) token masks, 1 = masked.
        patch_size: the model patch p the masks are drawn on.
    """

    images: torch.Tensor
    masks: torch.Tensor
    patch_size: int


def held_out_set(config, *, max_images: int | None = None, seed: int = 0, split: str = "val") -> HeldOutSet:
    """The held-out images of a pretraining configuration, masked with its own geometry.

    Args:
        config: a :class:`~kamim_lib.config.PretrainConfig` (data set, img_size, model, mask_patch_size, mask_ratio).
        max_images: at most this many images (a seeded subset, as the engine's ``max_eval_samples`` cuts its
            validation set); None = the whole split.
        seed: picks the images and draws the masks.
        split: "val" (held out) or "train".
    """
    num_images = len(build_dataset(config.dataset, root=config.data_root, split=split, **config.dataset_options))
    if max_images is not None:
        num_images = min(num_images, max_images)
    inputs = load_analysis_images(config.dataset, num_images=num_images, img_size=config.img_size,
                                  root=config.data_root, split=split, seed=seed, **config.dataset_options)
    patch_size = model_arch(config.model, img_size=config.img_size).patch_size
    masks = analysis_masks(num_images, img_size=config.img_size, model_patch_size=patch_size,
                           mask_patch_size=config.mask_patch_size, mask_ratio=config.mask_ratio, seed=seed)
    return HeldOutSet(inputs.images, masks, patch_size)


def masked_pixel_errors(prediction: torch.Tensor, images: torch.Tensor, masks: torch.Tensor,
                        patch_size: int) -> torch.Tensor:
    """Per-image mean absolute error over masked pixels and channels.

    Args:
        prediction: float (N, 3, H, W), or (3, H, W) for one prediction given to every image.
        images: float (N, 3, H, W) targets.
        masks: (N, H/p, W/p) token masks, 1 = masked (every image has at least one masked token).
        patch_size: p.

    Returns:
        float (N,).
    """
    pixel_mask = masks.to(images.dtype).repeat_interleave(patch_size, 1).repeat_interleave(patch_size, 2)
    pixel_mask = pixel_mask.unsqueeze(1)  # (N, 1, H, W)
    error = (prediction.expand_as(images) - images).abs() * pixel_mask
    return error.sum(dim=(1, 2, 3)) / (pixel_mask.sum(dim=(1, 2, 3)) * images.shape[1])


@torch.no_grad()
def model_predictions(model: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor,
                      batch_size: int = 64) -> torch.Tensor:
    """The model's reconstructions (N, 3, H, W) of masked images, in eval mode, on the CPU."""
    model = model.eval()
    outputs = [model(images[start:start + batch_size], masks[start:start + batch_size]).float()
               for start in range(0, len(images), batch_size)]
    return torch.cat(outputs)


def model_masked_l1(model: torch.nn.Module, held_out: HeldOutSet, batch_size: int = 64) -> float:
    """Mean over the held-out images of the per-image masked L1 of ``model`` (every image has the same number
    of masked pixels, so this is also the pooled mean)."""
    prediction = model_predictions(model, held_out.images, held_out.masks, batch_size)
    return float(masked_pixel_errors(prediction, held_out.images, held_out.masks, held_out.patch_size).mean())


def image_blind_prediction(config, *, passes: int = 2, seed: int = 0) -> torch.Tensor:
    """The per-pixel median of normalised training crops under the pretraining augmentation.

    Args:
        config: a :class:`~kamim_lib.config.PretrainConfig` (data set, img_size, max_train_samples).
        passes: augmented copies drawn of every training image.
        seed: seeds the augmentation (torch's global generator, restored afterwards).

    Returns:
        float (3, H, W): the same "reconstruction" for every input.
    """
    transform = PretrainTransform(img_size=config.img_size)
    dataset = build_split(config, "train", None)
    crops = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(passes):
            crops.extend(transform(dataset[index][0])["image"] for index in range(len(dataset)))
    normalised = normalize_on_device(torch.stack(crops))  # (passes * N, 3, H, W)
    return normalised.median(dim=0).values


def image_blind_masked_l1(config, held_out: HeldOutSet, *, passes: int = 2) -> float:
    """Mean held-out masked L1 of :func:`image_blind_prediction` (the same image for every input)."""
    blind = image_blind_prediction(config, passes=passes)
    return float(masked_pixel_errors(blind, held_out.images, held_out.masks, held_out.patch_size).mean())


def random_init_masked_l1(config, held_out: HeldOutSet, seeds, batch_size: int = 64) -> float:
    """Mean held-out masked L1 of freshly initialised models (one per seed, ``torch.manual_seed(seed)``)."""
    values = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = create_model(config.model, img_size=config.img_size, final_norm=config.final_norm)
        values.append(model_masked_l1(model, held_out, batch_size))
    return float(sum(values) / len(values))
