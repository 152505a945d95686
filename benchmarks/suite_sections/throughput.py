"""Sections b and c: keypoint-weight throughput and the pretraining step (compute only), eager and compiled."""
from __future__ import annotations

import statistics
import time

import torch

import keypoints as keypoint_bench
import train_step as step_bench  # one source for the FLOP formula and the datasheet peaks
from kamim_lib.engine import PretrainTask, build_optimizer
from kamim_lib.runtime.compile import compile_function, compile_model
from kamim_lib.engine.sampling import PositionSeededDataset

from .common import error_record, peak_memory_gib, pretrain_config, reset_peak_memory, synchronize

STEP_MODES = ("simmim", "kamim-device", "kamim-workers")


def section_keypoints(settings, device) -> dict:
    size, batch = settings["img_size"], settings["keypoint_batch"]
    crops = keypoint_bench.augmented_crops(keypoint_bench.load_photos(), batch, size, seed=0).to(device)
    from kamim_lib.methods.kamim import KeypointSpec, device_keypoint_weights

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
        section["compiled"] = error_record(error)
    section["compiled"]["seconds"] = round(time.perf_counter() - start, 1)
