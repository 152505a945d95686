"""Section d: JPEG files through the real DataLoader into the step, per input-pipeline variant."""
from __future__ import annotations

import math
import statistics
import time

import torch
from torch.utils.data import ConcatDataset

from kamim_lib.engine import PretrainTask, build_optimizer
from kamim_lib.engine.sampling import EpochBatchSampler, PositionSeededDataset
from kamim_lib.runtime import loader_kwargs

from .common import error_record, pretrain_config, synchronize

PIPELINE_VARIANTS = {
    "cpu_decode_keypoints_on_device": {"keypoints_on": "device", "decode_on_device": "off"},
    "cpu_decode_keypoints_in_workers": {"keypoints_on": "workers", "decode_on_device": "off"},
    "device_decode": {"keypoints_on": "device", "decode_on_device": "on"},
}


def run_pipeline_variant(settings, device, root, runtime, overrides: dict, workers: int) -> dict:
    config = pretrain_config(settings, root, method="kamim", num_workers=workers, prefetch_factor=4, **overrides)
    torch.manual_seed(0)
    task = PretrainTask(config, runtime)
    model = task.model.to(device).train()
    optimizer = build_optimizer(model, lr=1e-4, weight_decay=0.05, betas=(0.9, 0.999), fused=device.type == "cuda")
    batch_size, wanted = settings["step_batch"], settings["pipeline_batches"]
    # The files repeat (with other crops: positions differ) until an epoch holds the untimed first batch plus the
    # timed ones: with W workers each preparing a whole batch, batches arrive in bursts of W, so a steady rate
    # needs several bursts, more than the ~2k files hold.
    repeats = math.ceil((wanted + 1) * batch_size / len(task.train_dataset))
    dataset = ConcatDataset([task.train_dataset] * repeats)
    sampler = EpochBatchSampler(len(dataset), batch_size, seed=0, shuffle=True, last_batch="drop")
    loader = torch.utils.data.DataLoader(PositionSeededDataset(dataset), batch_sampler=sampler,
                                         collate_fn=task.collate, **loader_kwargs(config, device.type))
    step_seconds, waits = [], []
    sampler.set_epoch(0)
    iterator = iter(loader)
    first = runtime.to_device(next(iterator))  # worker start-up and the first batch: not timed
    loss = task.train_loss(model, first, 0)
    loss.backward()
    optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    wall_start = time.perf_counter()
    for _ in range(wanted):
        wait_start = time.perf_counter()
        batch = runtime.to_device(next(iterator))
        waits.append(time.perf_counter() - wait_start)
        if device.type == "cuda":
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
        step_start = time.perf_counter()
        loss = task.train_loss(model, batch, 0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            end.record()
            step_seconds.append((begin, end))
        else:
            step_seconds.append(time.perf_counter() - step_start)
    synchronize(device)
    wall = time.perf_counter() - wall_start
    busy = sum(begin.elapsed_time(end) / 1000 for begin, end in step_seconds) if device.type == "cuda" \
        else sum(step_seconds)
    # The loader alone, on the next epoch (persistent workers, nothing else running).
    sampler.set_epoch(1)
    iterator = iter(loader)
    next(iterator)
    loader_start = time.perf_counter()
    for _ in range(wanted):
        runtime.to_device(next(iterator))
    synchronize(device)
    loader_rate = wanted * batch_size / (time.perf_counter() - loader_start)
    step_rate = wanted * batch_size / busy
    return {"images_per_s": round(wanted * batch_size / wall, 1), "device_busy_fraction": round(busy / wall, 3),
            "mean_wait_for_batch_s": round(statistics.mean(waits), 4), "loader_only_images_per_s":
            round(loader_rate, 1), "step_only_images_per_s": round(step_rate, 1),
            "bottleneck": "loader (CPU)" if loader_rate < step_rate else "device (step)", "batches": wanted,
            "decode_on_device": task.decode_on_device, "weights_on_device": task.method.weights_on_device,
            "file_repeats": repeats}


def section_pipeline(settings, device, root, runtime, workers: int) -> dict:
    result = {"workers": workers, "batch": settings["step_batch"], "images": settings["train_images"],
              "busy_kind": "CUDA-event step time / wall" if device.type == "cuda" else "step wall time / wall",
              "variants": {}}
    for name, overrides in PIPELINE_VARIANTS.items():
        try:
            result["variants"][name] = run_pipeline_variant(settings, device, root, runtime, overrides, workers)
        except Exception as error:
            result["variants"][name] = error_record(error)
    return result
