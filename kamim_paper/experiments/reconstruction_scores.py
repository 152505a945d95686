"""Reconstruction scores over a whole data set split, as the original's ``compare_reconstructions.ipynb`` scored
them: every image of the ImageNet-1K validation split through ``Resize((S, S), antialias=False)`` (the squash,
``build_eval_transform``), in batches, PSNR/SSIM accumulated over the loader the way torchmetrics' metric objects
accumulate them (``reconstruction_data="imagenet_val"`` of notebook 10).

Under the original's convention (``kamim_lib.analysis.original_metrics``), accumulated over batches:

* PSNR: one sum of squared errors over every value of every image, and the data range max − min of the targets
  over every image seen (torchmetrics ``PeakSignalNoiseRatio()`` updated once per batch);
* SSIM: each image's SSIM with the data range inferred per batch (max of the predictions' and the targets'
  max − min over that batch), averaged over all images (``StructuralSimilarityIndexMeasure()`` updated per batch;
  the batch size therefore matters a little, as it did in the original).

kamim's own per-image convention is averaged over the finite per-image values. Progress is printed every
``progress_every`` batches; after every batch the running sums are written to a state file, so an interrupted run
resumes at the next batch (the masks of batch k depend only on the seed and k).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable, Mapping

import torch

from kamim_lib.analysis.collect import model_device
from kamim_lib.analysis.model_layout import evaluation_mode
from kamim_lib.analysis.reconstruction import reconstruction_metrics
from kamim_lib.analysis.ssim import ssim

RECONSTRUCTION_DATA = ("analysis", "imagenet_val")
STATE_VERSION = 1


def batch_mask_seed(seed: int, batch_index: int) -> int:
    """The mask seed of batch ``batch_index``: fixed by (seed, batch index) alone, so a resumed run draws the same."""
    return int(seed) * 1_000_003 + int(batch_index)


class ScoreAccumulator:
    """Running sums of one model's (or the floor's) scores under both conventions."""

    def __init__(self, state: Mapping | None = None):
        state = dict(state or {})
        self.sse = float(state.get("sse", 0.0))
        self.values = int(state.get("values", 0))
        self.target_min = float(state.get("target_min", math.inf))
        self.target_max = float(state.get("target_max", -math.inf))
        self.ssim_sum = float(state.get("ssim_sum", 0.0))
        self.images = int(state.get("images", 0))
        self.kamim_sum = dict(state.get("kamim_sum", {}))
        self.kamim_count = dict(state.get("kamim_count", {}))

    def update(self, prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> None:
        """Add one batch: ``prediction`` and ``target`` ImageNet-normalised (B, 3, H, W), ``mask`` (B, g, g)."""
        prediction, target = prediction.detach().float().cpu(), target.detach().float().cpu()
        # The sums run in float64 (50,000 images); each image's SSIM in float32, as the original's torchmetrics
        # computed it on the model's float32 outputs (about twice as fast as float64 on a CPU:
        # benchmarks/reconstruction_scoring.py).
        self.sse += float(((prediction.double() - target.double()) ** 2).sum())
        self.values += target.numel()
        self.target_min = min(self.target_min, float(target.min()))
        self.target_max = max(self.target_max, float(target.max()))
        data_range = max(float(prediction.max() - prediction.min()), float(target.max() - target.min()))
        if data_range <= 0:
            raise ValueError("a batch whose predictions and targets are both constant has no SSIM data range.")
        self.ssim_sum += float(ssim(prediction, target, None, data_range).double().sum())
        self.images += target.shape[0]
        for name, values in reconstruction_metrics(prediction, target, mask.cpu(), max_psnr_db=100.0).items():
            finite = values[torch.isfinite(values)]
            self.kamim_sum[name] = self.kamim_sum.get(name, 0.0) + float(finite.double().sum())
            self.kamim_count[name] = self.kamim_count.get(name, 0) + int(finite.numel())

    def state(self) -> dict:
        return {"sse": self.sse, "values": self.values, "target_min": self.target_min,
                "target_max": self.target_max, "ssim_sum": self.ssim_sum, "images": self.images,
                "kamim_sum": self.kamim_sum, "kamim_count": self.kamim_count}

    def record(self) -> dict:
        """The summary record of ``summaries.reconstruction_entries`` (without the per-image lists)."""
        mse = self.sse / self.values
        data_range = self.target_max - self.target_min
        psnr = math.inf if mse == 0 else 10 * math.log10(data_range ** 2 / mse)
        return {"original_convention": {"psnr_full": psnr, "ssim_full": self.ssim_sum / self.images},
                "mean": {name: (self.kamim_sum[name] / self.kamim_count[name] if self.kamim_count[name] else None)
                         for name in self.kamim_sum},
                "num_images": self.images}


def _write_state(path: Path, state: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, path)


def score_data_set(models: Mapping[str, torch.nn.Module], data, *, mean_image: torch.Tensor,
                   masks_for: Callable[[int, int], torch.Tensor], batch_size: int, state_path: str | os.PathLike,
                   fingerprint: dict, num_figure_images: int = 0, progress_every: int = 50,
                   restart: bool = False, log: Callable[[str], None] = print) -> tuple[dict, dict, dict]:
    """Score every image of ``data`` with every model and the image-blind floor, batch by batch, resumably.

    Args:
        models: label -> ``MaskedImageModel`` (eval mode, on their device).
        data: a data set of (normalised float (3, S, S), label), in a fixed order.
        mean_image: the floor's prediction, normalised (3, S, S).
        masks_for: (batch index, batch size) -> int64 (B, g, g) masks (the same for every model).
        batch_size: images per batch (also the SSIM's range-inference group, as in the original's loader).
        state_path: the running sums; a state written with the same ``fingerprint`` is resumed, another is
            discarded (and so is any with ``restart``: ``force`` must score again, the code may have changed).
        fingerprint: what the result depends on (parameters, checkpoints, data set size).
        num_figure_images: the first images whose reconstructions are kept for the figure.
        progress_every: batches between progress lines.
        log: where progress goes.

    Returns:
        (records: label -> record, floor record, figure tensors of the first batch: ``reference``, ``masks``,
        ``prediction/<label>`` normalised, the first ``num_figure_images``).
    """
    state_path = Path(state_path)
    labels = list(models) + ["__floor__"]
    state = {}
    if state_path.is_file() and restart:
        log(f"{state_path}: scoring again from the first batch (force).")
    elif state_path.is_file():
        state = json.loads(state_path.read_text())
        if state.get("fingerprint") != json.loads(json.dumps(fingerprint)) or state.get("version") != STATE_VERSION:
            log(f"{state_path}: written for other settings; starting again.")
            state = {}
    done = int(state.get("batches_done", 0))
    accumulators = {label: ScoreAccumulator(state.get("scores", {}).get(label)) for label in labels}
    figure_path = state_path.with_suffix(".figure.pt")
    figure = torch.load(figure_path) if done and figure_path.is_file() else {}
    total = len(data)
    batches = math.ceil(total / batch_size)
    if done:
        log(f"resuming at batch {done + 1} of {batches} ({done * batch_size} of {total} images already scored).")
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(data, range(done * batch_size, total)),
                                         batch_size=batch_size, shuffle=False, num_workers=0)
    for offset, (images, _) in enumerate(loader):
        index = done + offset
        masks = masks_for(index, images.shape[0])
        predictions = {}
        for label, model in models.items():
            device = model_device(model)
            with evaluation_mode(model), torch.no_grad():
                predictions[label] = model(images.to(device), masks.to(device)).float().cpu()
        predictions["__floor__"] = mean_image.to(images).expand_as(images).contiguous()
        for label in labels:
            accumulators[label].update(predictions[label], images, masks)
        if index == 0 and num_figure_images:
            shown = slice(0, num_figure_images)
            figure = {"reference": images[shown].clone(), "masks": masks[shown].clone(),
                      **{f"prediction/{label}": predictions[label][shown].clone() for label in labels}}
            torch.save(figure, figure_path)
        _write_state(state_path, {"version": STATE_VERSION, "fingerprint": fingerprint, "batches_done": index + 1,
                                  "scores": {label: accumulators[label].state() for label in labels}})
        if (index + 1) % progress_every == 0 or index + 1 == batches:
            log(f"reconstructions: batch {index + 1} of {batches} ({min((index + 1) * batch_size, total)} of "
                f"{total} images).")
    records = {label: accumulators[label].record() for label in models}
    return records, accumulators["__floor__"].record(), figure
