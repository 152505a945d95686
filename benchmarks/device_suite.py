"""The paper path on one accelerator, correct, fast and measured: one command that fits a short GPU window.

    python benchmarks/device_suite.py --out DIR                 # one GPU: <= 8 minutes (--budget-s guards it)
    python benchmarks/device_suite.py --smoke --out DIR         # the same code paths on the CPU, tiny sizes

Writes ``DIR/device_suite.json`` and prints a table. Sections (each timed, guarded by the budget, and recorded as
``{"status": "ok" | "skipped" | "error", ...}`` instead of crashing the run):

a. ``correctness``: torch FAST on the device equals OpenCV on the bundled photos (faithful and points maps, with and
   without non-maximum suppression); KAMIM weights on the device equal the CPU's (OpenCV); a bf16 pretraining step
   is finite; a run interrupted mid-epoch and resumed equals the uninterrupted one (deterministic kernels, stated
   tolerance); JPEG decode + crop on the device is within one grey level of the CPU's.
b. ``keypoints``: faithful FAST map + weights throughput, eager and ``torch.compile``-d.
c. ``train_step``: the pretraining step (forward, masked L1, backward, clipping, AdamW) on a batch already on the
   device, for SimMIM, KAMIM with keypoints on the device and KAMIM with weights from the loader workers; images/s,
   KAMIM/SimMIM step-time ratios, MFU from the analytic FLOP count (``benchmarks/train_step.py``), peak memory;
   eager and compiled.
d. ``pipeline``: JPEG files written at start-up through the real DataLoader with N workers into the step: images/s,
   device busy fraction, loader-only and step-only rates and which side limits; for CPU decoding with keypoints
   on the device, CPU decoding with keypoints in the workers, and decoding on the device (``decode_on_device``).
e. ``paper_run``: ``kamim pretrain`` with ``params/train/paper.yaml`` on those files (a few epochs: loss finite and
   falling), then ``kamim linprobe`` and ``kamim finetune`` from it.

The exit code is 1 when a correctness check fails (or the correctness section errors), else 0. Needs only torch,
torchvision, timm, OpenCV, scikit-image and the checkout (``kamim_lib`` is imported from here; nothing to install).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # kamim_lib from this checkout
sys.path.insert(0, str(HERE))  # sibling benchmarks: one source for the photos, the FLOP formula and the peaks

import keypoints as keypoint_bench  # noqa: E402
import train_step as step_bench  # noqa: E402

from kamim_lib.config import load_config  # noqa: E402
from kamim_lib.data.device_pipeline import EncodedPretrainDataset, decode_crops, encoded_collate, file_samples  # noqa
from kamim_lib.data.photo_folder import write_photo_folder  # noqa: E402
from kamim_lib.engine import PretrainTask, build_optimizer, fit  # noqa: E402
from kamim_lib.engine.compile import compile_function, compile_model  # noqa: E402
from kamim_lib.engine.sampling import EpochBatchSampler, PositionSeededDataset  # noqa: E402
from kamim_lib.runtime import create_runtime, loader_kwargs, tf32_matmuls  # noqa: E402
from kamim_lib.weighting import keypoint_weights  # noqa: E402

PAPER_CONFIG = HERE.parent / "params" / "train" / "paper.yaml"
SECTIONS = ("correctness", "keypoints", "train_step", "pipeline", "paper_run")
STEP_MODES = ("simmim", "kamim-device", "kamim-workers")

# Sizes of the two profiles. "estimate_s" is what each section needs at most on its machine (the budget guard skips
# a section when less is left); full = one H100 with 16 cores, smoke = a 2-core CPU.
PROFILES = {
    "full": {"device": "cuda", "model": "vit_b", "img_size": 192, "mask_patch_size": 32, "step_batch": 128,
             "keypoint_batch": 256, "correct_images": 64, "steps": 20, "warmup": 5, "rounds": 3,
             "train_images": 2048, "val_images": 256, "workers": None, "pipeline_batches": 12,
             "resume_model": "vit_nano", "resume_img_size": 64, "paper_epochs": 3, "paper_batch": 128,
             "paper_effective_batch": 256, "paper_compile": False, "compile_backend": "inductor", "threads": None,
             "estimate_s": {"correctness": 60, "keypoints": 60, "train_step": 40, "pipeline": 60, "paper_run": 90,
                            "train_step_compiled": 120}},
    "smoke": {"device": "cpu", "model": "vit_nano", "img_size": 64, "mask_patch_size": 32, "step_batch": 8,
              "keypoint_batch": 16, "correct_images": 8, "steps": 3, "warmup": 1, "rounds": 1,
              "train_images": 48, "val_images": 16, "workers": 1, "pipeline_batches": 3,
              "resume_model": "vit_nano", "resume_img_size": 32, "paper_epochs": 2, "paper_batch": 8,
              "paper_effective_batch": 16, "paper_compile": False, "compile_backend": "aot_eager", "threads": 1,
              "estimate_s": {"correctness": 30, "keypoints": 15, "train_step": 15, "pipeline": 20, "paper_run": 40,
                             "train_step_compiled": 20}},
}
# Smoke compiles with "aot_eager": the graph capture (dynamo + AOT autograd) that every backend shares, in seconds;
# inductor's code generation is Triton on a GPU and C++ on a CPU (a different generator, over a minute for a tiny
# ViT on two cores), so the CPU cannot rehearse the GPU's anyway. "threads": 1 because multi-threaded torch on a
# shared 2-core machine stalls on descheduled OpenMP threads.
# Resumed vs uninterrupted weights (max |difference| of any weight): deterministic kernels make them bit-equal on one
# machine; a device whose kernels still differ between two identical runs gets ten times that rerun difference.
RESUME_TOLERANCE = 1e-6
DECODE_TOLERANCE_GREY = 1


# --------------------------------------------------------------------------------------------------- helpers ---

class Clock:
    """Wall time and the budget of the run."""

    def __init__(self, budget_s: float):
        self.start, self.budget_s = time.perf_counter(), budget_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float:
    """Peak memory: CUDA's allocator peak since the last reset, or the process's resident high-water mark on CPU."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)  # KiB -> GiB (Linux)


def pretrain_config(settings: dict, root: Path, **overrides):
    """The profile's pretraining configuration on the JPEG folder ``root``, with overrides."""
    base = {"model": settings["model"], "img_size": settings["img_size"],
            "mask_patch_size": settings["mask_patch_size"], "batch_size": settings["step_batch"],
            "effective_batch_size": None, "device": settings["device"], "num_workers": 0, "progress": False,
            "dataset": "imagefolder", "data_root": str(root)}
    return load_config({**base, **overrides}, section="pretrain")


def machine(device: torch.device) -> dict:
    import cv2
    import torchvision

    info = {"cpu_model": keypoint_bench.cpu_model(), "cpus": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()), "python": platform.python_version(),
            "torch": torch.__version__, "torchvision": torchvision.__version__, "opencv": cv2.__version__,
            "device": str(device), "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


# ------------------------------------------------------------------------------------------ a. correctness ---

def check_fast_equals_opencv(settings, device) -> dict:
    crops = keypoint_bench.augmented_crops(keypoint_bench.load_photos(), settings["correct_images"],
                                           settings["img_size"], seed=1)
    from kamim_lib.keypoints import keypoint_map

    cases = {}
    for mode in ("faithful", "points"):
        for nonmax in (True, False):
            reference = keypoint_map(crops, "fast", mode, "opencv", nonmax=nonmax)
            ours = keypoint_map(crops.to(device), "fast", mode, "torch", nonmax=nonmax).cpu()
            cases[f"{mode}_nms" if nonmax else f"{mode}_no_nms"] = {
                "equal": bool(torch.equal(ours, reference)),
                "differing_pixels": int((ours != reference).sum()), "lit_pixels": int(reference.sum())}
    return {"passed": all(case["equal"] for case in cases.values()), "images": len(crops), "cases": cases}


def check_weights_equal_cpu(settings, device) -> dict:
    crops = keypoint_bench.augmented_crops(keypoint_bench.load_photos(), settings["correct_images"],
                                           settings["img_size"], seed=2)
    cpu = keypoint_weights(crops, "fast", 8, 0.25, mode="faithful", backend="opencv").float()
    ours = keypoint_weights(crops.to(device), "fast", 8, 0.25, mode="faithful", backend="torch").float().cpu()
    difference = float((ours - cpu).abs().max())
    tolerance = 1e-5 * float(cpu.abs().max())  # exp() may round differently in the last bit on another device
    return {"passed": difference <= tolerance, "max_abs_difference": difference, "tolerance": tolerance}


def check_bf16_step(settings, device, root) -> dict:
    runtime = create_runtime(device.type, "bf16")
    config = pretrain_config(settings, root, method="kamim", keypoints_on="device", batch_size=4)
    torch.manual_seed(0)
    task = PretrainTask(config, runtime)
    model = task.model.to(device)
    dataset = PositionSeededDataset(task.train_dataset)
    batch = runtime.to_device(task.collate([dataset[(index, index)] for index in range(4)]))
    loss = task.train_loss(model, batch, 0)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    finite = bool(torch.isfinite(loss)) and bool(torch.isfinite(grad_norm))
    return {"passed": finite, "loss": float(loss.detach()), "grad_norm": float(grad_norm),
            "autocast": str(runtime.autocast_dtype)}


class _Interrupt(Exception):
    """Raised from on_step to stop a run mid-epoch, as a crash would."""


def check_resume(settings, device, work: Path) -> dict:
    """Uninterrupted run vs the same run stopped after optimiser step 5 (checkpoint at step 4) and resumed."""
    common = {"model": settings["resume_model"], "img_size": settings["resume_img_size"], "mask_patch_size": 16,
              "dataset": "digits", "dataset_options": {"image_size": settings["resume_img_size"]}, "batch_size": 16,
              "effective_batch_size": None, "epochs": 2, "warmup_epochs": 0.5, "max_train_samples": 96,
              "device": device.type, "num_workers": 0, "deterministic": True, "checkpoint_every_steps": 4,
              "progress": False, "keypoints_on": "device", "lr": 1e-3}

    def final_model(out: Path, interrupt_at: int | None) -> dict:
        config = load_config({**common, "out_dir": str(out)}, section="pretrain")
        if interrupt_at is not None:
            def stop(info):
                if info["optimizer_steps"] == interrupt_at:
                    raise _Interrupt
            with contextlib.suppress(_Interrupt):
                fit(config, on_step=stop)
        summary = fit(config)
        state = torch.load(summary["checkpoint"], map_location="cpu", weights_only=True)
        return state["model"], summary["optimizer_steps"]

    def max_difference(first: dict, second: dict) -> float:
        return max(float((first[key].float() - second[key].float()).abs().max()) for key in first)

    reference, steps = final_model(work / "uninterrupted", None)
    repeat, _ = final_model(work / "uninterrupted_again", None)
    resumed, resumed_steps = final_model(work / "resumed", 5)
    # Run-to-run noise of this device's kernels (0 where every kernel is deterministic): resuming may not add more
    # than ten times that floor, and never more than RESUME_TOLERANCE where the floor is 0.
    floor = max_difference(reference, repeat)
    tolerance = max(RESUME_TOLERANCE, 10 * floor)
    difference = max_difference(reference, resumed)
    return {"passed": difference <= tolerance and steps == resumed_steps, "max_abs_weight_difference": difference,
            "rerun_max_abs_weight_difference": floor, "tolerance": tolerance, "optimizer_steps": steps,
            "interrupted_after_step": 5}


def check_device_decode(settings, device, root) -> dict:
    samples = file_samples(_folder_dataset(root))[:settings["correct_images"]]
    dataset = PositionSeededDataset(EncodedPretrainDataset(samples, img_size=settings["img_size"]))
    encoded = encoded_collate([dataset[(index, 7 + index)] for index in range(len(samples))])["encoded"]
    on_device = decode_crops(encoded, device, settings["img_size"]).cpu().int()
    on_cpu = decode_crops(encoded, "cpu", settings["img_size"]).int()
    difference = (on_device - on_cpu).abs()
    return {"passed": int(difference.max()) <= DECODE_TOLERANCE_GREY, "max_grey_difference": int(difference.max()),
            "mean_grey_difference": float(difference.float().mean()), "tolerance_grey": DECODE_TOLERANCE_GREY,
            "images": len(samples)}


def _folder_dataset(root: Path):
    from kamim_lib.data import build_dataset

    return build_dataset("imagefolder", root=root, split="train")


def section_correctness(settings, device, root, work) -> dict:
    checks = {}
    for name, run in (("fast_equals_opencv", lambda: check_fast_equals_opencv(settings, device)),
                      ("weights_equal_cpu", lambda: check_weights_equal_cpu(settings, device)),
                      ("bf16_step_finite", lambda: check_bf16_step(settings, device, root)),
                      ("resume_equals_uninterrupted", lambda: check_resume(settings, device, work / "resume")),
                      ("device_decode_within_one_grey_level", lambda: check_device_decode(settings, device, root))):
        try:
            checks[name] = run()
        except Exception as error:  # one broken check must not hide the others
            checks[name] = {"passed": False, "error": f"{type(error).__name__}: {error}",
                            "traceback": traceback.format_exc(limit=8)}
    return {"passed": all(check["passed"] for check in checks.values()), "checks": checks}


# -------------------------------------------------------------------------------------------- b. keypoints ---

def section_keypoints(settings, device) -> dict:
    size, batch = settings["img_size"], settings["keypoint_batch"]
    crops = keypoint_bench.augmented_crops(keypoint_bench.load_photos(), batch, size, seed=0).to(device)
    from kamim_lib.data import KeypointSpec, device_keypoint_weights

    spec = KeypointSpec()
    eager = device_keypoint_weights
    compiled = compile_function(device_keypoint_weights, enabled=True, device_type=device.type,
                                backend=settings["compile_backend"])
    results = {"size": size, "batch": batch, "spec": "fast faithful, w_ps 8, T 0.25"}
    start = time.perf_counter()
    compiled_weights = compiled(crops, spec)
    synchronize(device)
    results["compile_s"] = round(time.perf_counter() - start, 2)
    results["compiled_equals_eager_max_abs_difference"] = float((compiled_weights - eager(crops, spec)).abs().max())
    for name, function in (("eager", eager), ("compiled", compiled)):
        figures = keypoint_bench.images_per_second(lambda: function(crops, spec), batch, settings["steps"],
                                                   settings["warmup"], lambda: synchronize(device))
        results[name] = {"images_per_s": round(figures["images_per_s_median"], 1),
                         "images_per_s_best": round(figures["images_per_s_best"], 1)}
    return results


# ------------------------------------------------------------------------------------------- c. train step ---

class StepBench:
    """One model + fused AdamW and, per mode, a task and one batch already on the device (compute only)."""

    def __init__(self, settings, device, root, runtime, compiled: bool):
        self.settings, self.device, self.runtime = settings, device, runtime
        torch.manual_seed(0)
        self.tasks = {mode: PretrainTask(pretrain_config(
            settings, root, method="simmim" if mode == "simmim" else "kamim", compile_keypoints=compiled,
            keypoints_on="workers" if mode == "kamim-workers" else "device"), runtime) for mode in STEP_MODES}
        self.model = self.tasks["simmim"].model.to(device).train()
        self.call_model = compile_model(self.model, enabled=compiled, device_type=device.type,
                                        backend=settings["compile_backend"])
        self.optimizer = build_optimizer(self.model, lr=1e-4, weight_decay=0.05, betas=(0.9, 0.999),
                                         fused=device.type == "cuda")
        self.batches = {}
        for mode, task in self.tasks.items():
            dataset = PositionSeededDataset(task.train_dataset)
            items = [dataset[(index, index)] for index in range(settings["step_batch"])]
            self.batches[mode] = runtime.to_device(task.collate(items))

    def step(self, mode: str) -> None:
        loss = self.tasks[mode].train_loss(self.call_model, self.batches[mode], 0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def seconds_per_step(self, mode: str, steps: int) -> float:
        synchronize(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            self.step(mode)
        synchronize(self.device)
        return (time.perf_counter() - start) / steps


def mfu(flops_per_image: float | None, images_per_s: float, device: torch.device, peak_tflops: float | None):
    """(achieved TFLOP/s, MFU or None where no peak is known)."""
    if flops_per_image is None:
        return None, None
    achieved = flops_per_image * images_per_s / 1e12
    if peak_tflops is None and device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak_tflops = next((value for key, value in step_bench.PEAK_BF16_TFLOPS.items() if key in name), None)
    return float(f"{achieved:.4g}"), (round(achieved / peak_tflops, 4) if peak_tflops else None)


def measure_steps(settings, device, root, runtime, compiled: bool, peak_tflops) -> dict:
    bench = StepBench(settings, device, root, runtime, compiled)
    start = time.perf_counter()
    for mode in STEP_MODES:  # first calls: compilation (compiled) and allocator warm-up
        bench.step(mode)
    synchronize(device)
    result = {"first_steps_s": round(time.perf_counter() - start, 2)}
    times = {mode: [] for mode in STEP_MODES}
    peaks = {}
    for _ in range(settings["rounds"]):  # interleaved rounds, medians: load bursts hit every mode alike
        for mode in STEP_MODES:
            bench.seconds_per_step(mode, settings["warmup"])
            reset_peak_memory(device)
            times[mode].append(bench.seconds_per_step(mode, settings["steps"]))
            peaks[mode] = peak_memory_gib(device)
    flops = step_bench.analytic_vit_flops(bench.model)
    batch = settings["step_batch"]
    for mode in STEP_MODES:
        step_s = statistics.median(times[mode])
        tflops, utilisation = mfu(flops, batch / step_s, device, peak_tflops)
        result[mode] = {"step_s": round(step_s, 5), "images_per_s": round(batch / step_s, 1),
                        "achieved_tflops": tflops, "mfu": utilisation, "peak_memory_gib": peaks[mode]}
    for mode in ("kamim-device", "kamim-workers"):
        result[f"ratio_{mode}_over_simmim"] = round(result[mode]["step_s"] / result["simmim"]["step_s"], 3)
    result["flops_per_image_analytic"] = flops
    return result


def section_train_step(settings, device, root, runtime, peak_tflops) -> dict:
    """Eager figures; the compiled ones are added by :func:`add_compiled_steps` after the other sections (a slow
    compilation must not push the pipeline and the paper run out of the budget)."""
    return {"model": settings["model"], "img_size": settings["img_size"], "batch": settings["step_batch"],
            "autocast": str(runtime.autocast_dtype), "fused_adamw": device.type == "cuda",
            "tf32": device.type == "cuda",
            "peak_memory_kind": "cuda max_memory_allocated" if device.type == "cuda" else "process max RSS",
            "mfu_peak_tflops": peak_tflops or ("datasheet bf16 dense" if device.type == "cuda" else None),
            "eager": measure_steps(settings, device, root, runtime, False, peak_tflops)}


def add_compiled_steps(section: dict, settings, device, root, runtime, peak_tflops, clock, estimate) -> None:
    """``section["compiled"]``: the same measurements with torch.compile-d model and keypoint function."""
    if clock.left() < estimate:
        section["compiled"] = {"status": "skipped", "reason": f"{clock.left():.0f} s of budget left, compiled steps "
                                                              f"need ~{estimate} s"}
        return
    start = time.perf_counter()
    try:
        section["compiled"] = {"status": "ok", "backend": settings["compile_backend"],
                               **measure_steps(settings, device, root, runtime, True, peak_tflops)}
    except Exception as error:
        section["compiled"] = {"status": "error", "error": f"{type(error).__name__}: {error}",
                               "traceback": traceback.format_exc(limit=8)}
    section["compiled"]["seconds"] = round(time.perf_counter() - start, 1)


# --------------------------------------------------------------------------------------------- d. pipeline ---

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
    batch_size = settings["step_batch"]
    sampler = EpochBatchSampler(len(task.train_dataset), batch_size, seed=0, shuffle=True, drop_last=True)
    loader = torch.utils.data.DataLoader(PositionSeededDataset(task.train_dataset), batch_sampler=sampler,
                                         collate_fn=task.collate, **loader_kwargs(config, device.type))
    wanted = min(settings["pipeline_batches"], sampler.batches_per_epoch - 1)
    if wanted < 1:
        raise ValueError(f"the JPEG folder holds {len(task.train_dataset)} images: fewer than two batches of "
                         f"{batch_size}")
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
            "decode_on_device": task.decode_on_device, "weights_on_device": task.weights_on_device}


def section_pipeline(settings, device, root, runtime, workers: int) -> dict:
    result = {"workers": workers, "batch": settings["step_batch"], "images": settings["train_images"],
              "busy_kind": "CUDA-event step time / wall" if device.type == "cuda" else "step wall time / wall",
              "variants": {}}
    for name, overrides in PIPELINE_VARIANTS.items():
        try:
            result["variants"][name] = run_pipeline_variant(settings, device, root, runtime, overrides, workers)
        except Exception as error:
            result["variants"][name] = {"status": "error", "error": f"{type(error).__name__}: {error}",
                                        "traceback": traceback.format_exc(limit=8)}
    return result


# -------------------------------------------------------------------------------------------- e. paper run ---

def section_paper_run(settings, device, root, work: Path, workers: int) -> dict:
    """``kamim pretrain`` / ``linprobe`` / ``finetune`` with params/train/paper.yaml, shortened, on the JPEGs."""
    from kamim_lib.cli import main as kamim

    epochs = settings["paper_epochs"]
    shared = ["dataset=imagefolder", f"data_root={root}", f"epochs={epochs}", "warmup_epochs=1",
              f"batch_size={settings['paper_batch']}", f"effective_batch_size={settings['paper_effective_batch']}",
              f"num_workers={workers}", f"device={device.type}", "progress=false"]
    # Keys both commands have are given twice: as themselves and, with the pretrain. prefix, as the settings of the
    # pretrain run that linprobe/finetune look for; pretrain-only keys and model/img_size/out_dir name it directly.
    common = [*shared, f"out_dir={work / 'paper'}",
              f"model={settings['model']}", f"img_size={settings['img_size']}", "checkpoint_every_steps=0",
              f"keypoints_on={'device' if device.type == 'cuda' else 'workers'}",
              f"mask_patch_size={settings['mask_patch_size']}"]
    result = {"config": str(PAPER_CONFIG.relative_to(HERE.parent)), "overrides": common, "runs": {}}
    for command, extra in (("pretrain", [f"compile={str(settings['paper_compile']).lower()}"]),
                           ("linprobe", ["knn_k=5", *(f"pretrain.{item}" for item in shared)]),
                           ("finetune", [f"pretrain.{item}" for item in shared])):
        start = time.perf_counter()
        code = kamim([command, "--config", str(PAPER_CONFIG), "--set", *common, *extra])
        run = {"exit_code": code, "seconds": round(time.perf_counter() - start, 1), "extra_overrides": extra}
        summaries = sorted((work / "paper" / command).glob("*/summary.json"))
        if summaries:
            summary = json.loads(summaries[-1].read_text())
            run.update({key: summary.get(key) for key in ("status", "train_loss_first_epoch", "train_loss_last_epoch",
                                                          "val_top1", "knn_top1", "session_images_per_s")})
        result["runs"][command] = run
    first = result["runs"]["pretrain"].get("train_loss_first_epoch")
    last = result["runs"]["pretrain"].get("train_loss_last_epoch")
    result["pretrain_loss_finite"] = first is not None and last is not None and math.isfinite(first) \
        and math.isfinite(last)
    result["pretrain_loss_falling"] = bool(result["pretrain_loss_finite"] and last < first)
    result["passed"] = result["pretrain_loss_finite"] and all(run["exit_code"] == 0 for run in result["runs"].values())
    return result


# ------------------------------------------------------------------------------------------------- report ---

def print_table(report: dict) -> None:
    rows = [("section", "status", "figures")]
    for name in SECTIONS:
        section = report["sections"].get(name, {})
        status = section.get("status", "?")
        figures = ""
        if status == "ok" and name == "correctness":
            figures = ", ".join(f"{check}: {'pass' if result['passed'] else 'FAIL'}"
                                for check, result in section["checks"].items())
        elif status == "ok" and name == "keypoints":
            figures = (f"{section['eager']['images_per_s']:.0f} img/s eager, {section['compiled']['images_per_s']:.0f} "
                       f"compiled ({section['size']} px, batch {section['batch']})")
        elif status == "ok" and name == "train_step":
            parts = []
            for kind in ("eager", "compiled"):
                figures_kind = section.get(kind, {})
                if "simmim" in figures_kind:
                    mfu_text = f"{figures_kind['simmim']['mfu']:.1%}" if figures_kind["simmim"]["mfu"] else "n/a"
                    parts.append(f"{kind}: SimMIM {figures_kind['simmim']['images_per_s']:.0f} img/s, MFU {mfu_text}, "
                                 f"KAMIM/SimMIM device {figures_kind['ratio_kamim-device_over_simmim']}, workers "
                                 f"{figures_kind['ratio_kamim-workers_over_simmim']}")
                else:
                    parts.append(f"{kind}: {figures_kind.get('status', '?')}")
            figures = "; ".join(parts)
        elif status == "ok" and name == "pipeline":
            figures = "; ".join(f"{variant}: {values['images_per_s']:.0f} img/s, busy "
                                f"{values['device_busy_fraction']:.0%}, limit {values['bottleneck']}"
                                if "images_per_s" in values else f"{variant}: error"
                                for variant, values in section["variants"].items())
        elif status == "ok" and name == "paper_run":
            runs = section["runs"]
            figures = (f"pretrain loss {runs['pretrain'].get('train_loss_first_epoch')} -> "
                       f"{runs['pretrain'].get('train_loss_last_epoch')}; exit codes "
                       + ", ".join(f"{command} {run['exit_code']}" for command, run in runs.items()))
        elif status in ("skipped", "error"):
            figures = section.get("reason") or section.get("error", "")
        rows.append((name, status, figures))
    width = max(len(row[0]) for row in rows)
    for row in rows:
        print(f"{row[0]:<{width}}  {row[1]:<7}  {row[2]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for device_suite.json and the run files")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (the test suite runs this)")
    parser.add_argument("--budget-s", type=float, default=450.0,
                        help="stop starting sections when their estimate no longer fits (default 450 s)")
    parser.add_argument("--device", default=None, help="override the profile's device (cpu or cuda)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default: all cores, 1 in smoke)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (default: datasheet)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--compile-backend", default=None,
                        help="torch.compile backend (default: inductor; aot_eager with --smoke)")
    args = parser.parse_args(argv)
    # Deterministic cuBLAS for the resume check must be configured before the first CUDA matmul of the process.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    settings = dict(PROFILES["smoke" if args.smoke else "full"])
    if args.device:
        settings["device"] = args.device
    if args.compile_backend:
        settings["compile_backend"] = args.compile_backend
    if settings["device"] == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA GPU is visible; run with --smoke (or --device cpu) on a CPU machine.")
    if settings["threads"]:
        torch.set_num_threads(settings["threads"])
    clock = Clock(args.budget_s)
    runtime = create_runtime(settings["device"], "auto")
    device = runtime.device
    workers = args.workers if args.workers is not None else (settings["workers"] or len(os.sched_getaffinity(0)))
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"suite": "device_suite", "profile": "smoke" if args.smoke else "full", "budget_s": args.budget_s,
              "machine": machine(device), "settings": {key: value for key, value in settings.items()
                                                       if key != "estimate_s"}, "workers": workers, "sections": {}}
    estimates = settings["estimate_s"]
    with tempfile.TemporaryDirectory(prefix="device_suite_", dir=args.out) as scratch, \
            tf32_matmuls(device.type == "cuda"):
        work = Path(scratch)
        start = time.perf_counter()
        root = write_photo_folder(work / "jpegs", train_images=settings["train_images"],
                                  val_images=settings["val_images"])
        report["jpeg_folder_s"] = round(time.perf_counter() - start, 2)
        runners = {
            "correctness": lambda: section_correctness(settings, device, root, work),
            "keypoints": lambda: section_keypoints(settings, device),
            "train_step": lambda: section_train_step(settings, device, root, runtime, args.peak_tflops),
            "pipeline": lambda: section_pipeline(settings, device, root, runtime, workers),
            "paper_run": lambda: section_paper_run(settings, device, root, work, workers),
        }
        for name in SECTIONS:
            if name not in args.sections:
                report["sections"][name] = {"status": "skipped", "reason": "not in --sections"}
                continue
            if clock.left() < estimates[name]:
                reason = (f"{clock.left():.0f} s of the {args.budget_s:.0f} s budget left; this section needs "
                          f"~{estimates[name]} s")
                report["sections"][name] = {"status": "skipped", "reason": reason}
                print(f"[device_suite] skipping {name}: {report['sections'][name]['reason']}", flush=True)
                continue
            print(f"[device_suite] {name} ({clock.elapsed():.0f} s elapsed)", flush=True)
            section_start = time.perf_counter()
            try:
                report["sections"][name] = {"status": "ok", **runners[name]()}
            except Exception as error:
                report["sections"][name] = {"status": "error", "error": f"{type(error).__name__}: {error}",
                                            "traceback": traceback.format_exc(limit=10)}
            report["sections"][name]["seconds"] = round(time.perf_counter() - section_start, 1)
            if device.type == "cuda":
                torch.cuda.empty_cache()
        steps = report["sections"].get("train_step", {})
        if steps.get("status") == "ok":
            print(f"[device_suite] train_step, compiled ({clock.elapsed():.0f} s elapsed)", flush=True)
            add_compiled_steps(steps, settings, device, root, runtime, args.peak_tflops, clock,
                               estimates["train_step_compiled"])
    report["total_s"] = round(clock.elapsed(), 1)
    correctness = report["sections"]["correctness"]
    failed = correctness.get("status") == "error" or (correctness.get("status") == "ok"
                                                      and not correctness["passed"])
    paper = report["sections"]["paper_run"]
    failed = failed or (paper.get("status") == "ok" and not paper["passed"])
    report["passed"] = not failed
    path = args.out / "device_suite.json"
    # No paths of this machine in a result that may be committed: the scratch folder and the checkout are named.
    text = json.dumps(report, indent=2, default=str).replace(str(work), "<scratch>").replace(str(HERE.parent),
                                                                                             "<checkout>")
    path.write_text(text + "\n")
    print_table(report)
    print(f"total {report['total_s']} s; wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
