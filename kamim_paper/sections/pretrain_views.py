"""What the pretraining notebook shows of its checkpoints: reconstructions of the same masked validation images.

The arrays use the layout of the reconstructions section (``reference``, ``masked``, ``prediction/<label>``, uint8
(n, 3, H, W)), so ``kamim_paper.results.figures.analysis.reconstructions_figure`` draws them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch


def reconstruction_arrays(checkpoints: Mapping[str, str | Path], config, *, num_images: int, seed: int = 0,
                          split: str = "val", device: str | torch.device = "cpu",
                          batch_size: int = 32) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Reconstruct the same masked images with each pretrained checkpoint.

    Args:
        checkpoints: label -> a pretrain checkpoint of ``config.model`` (e.g. {"simmim": ..., "kamim": ...}).
        config: a :class:`~kamim_lib.config.PretrainConfig` giving the data set, image size, final norm and the
            masks (``mask_patch_size``, ``mask_ratio``) — the pretraining's own.
        num_images: how many validation images (a seeded random subset, the same for every checkpoint).
        seed: picks the images and draws the masks.
        split: the data split the images come from.
        device: where the models run: a torch device, or the engine's "auto", "cpu", "cuda", "xla" (a few images
            need no TPU: "xla" runs them on the CPU).
        batch_size: images per forward pass.

    Returns:
        ``(arrays, metrics)``: arrays uint8 (num_images, 3, H, W) named ``reference``, ``masked`` and
        ``prediction/<label>``; metrics label -> mean ``psnr_masked``, ``psnr_full``, ``ssim_masked``,
        ``ssim_full`` over the images (un-normalised pixels in [0, 1]).
    """
    from kamim_lib.analysis.collect import reconstruct
    from kamim_paper.experiments.analysis_inputs import analysis_masks, load_analysis_images
    from kamim_lib.analysis.pixels import masked_input, unnormalize
    from kamim_paper.results.summaries import to_uint8_pixels
    from kamim_lib.models import load_pretrained

    if not checkpoints:
        raise ValueError("checkpoints must name at least one pretrained checkpoint.")
    if not isinstance(device, torch.device):
        from kamim_paper.experiments.analysis_models import resolve_analysis_device

        device = torch.device("cpu") if device == "xla" else resolve_analysis_device(device)
    inputs = load_analysis_images(config.dataset, num_images=num_images, img_size=config.img_size,
                                  root=config.data_root, split=split, seed=seed, **config.dataset_options)
    arrays: dict[str, torch.Tensor] = {}
    metrics: dict[str, dict] = {}
    masks = None
    for label, path in checkpoints.items():
        model = load_pretrained(path, config.model, strict=True, img_size=config.img_size,
                                final_norm=config.final_norm).to(device).eval()
        if masks is None:
            masks = analysis_masks(num_images, img_size=config.img_size, model_patch_size=model.patch_size,
                                   mask_patch_size=config.mask_patch_size, mask_ratio=config.mask_ratio, seed=seed)
            reference = unnormalize(inputs.images)
            arrays["reference"] = to_uint8_pixels(reference)
            arrays["masked"] = to_uint8_pixels(masked_input(reference, masks))
        result = reconstruct(model, inputs.images, masks, batch_size=batch_size)
        arrays[f"prediction/{label}"] = to_uint8_pixels(result.prediction)
        metrics[label] = {name: float(values[torch.isfinite(values)].mean()) if torch.isfinite(values).any()
                          else None for name, values in result.metrics.items()}
    return arrays, metrics
