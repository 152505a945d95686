"""torch.profiler tables of the compiled ViT-B SimMIM and KAMIM pretraining steps: which kernels take the time.

    python benchmarks/profile_train_step.py --out DIR                # one GPU: ViT-B/16 at 192 px, batch 256, inductor
    python benchmarks/profile_train_step.py --smoke --out DIR        # the same code on the CPU, tiny sizes

For each mode of the device suite's step benchmark (``simmim``, ``kamim-device``: keypoint weights computed on the
device, ``kamim-workers``: weights from the loader) it compiles the model (as the device suite's compiled steps),
warms up, then profiles ``--steps`` steps and writes

- ``DIR/profile_<mode>.txt``: the top ``--rows`` operators and kernels by CUDA time (self), with calls and
  shares; on the CPU by CPU time;
- ``DIR/profile_steps.json``: per mode the step time, the top kernels and the step-time ratio to SimMIM.

The diagnosis it serves: the measured 30 % MFU of the SimMIM step and the 1.032 KAMIM/SimMIM step-time ratio
(``results/benchmarks/device_suite.json``): are attention, the MLP GEMMs, the decoder, the loss, the keypoint weights
or launch gaps the cost? Uses the device suite's own step (``suite_sections.throughput.StepBench``) and settings.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from device_suite import PROFILES  # noqa: E402
from kamim_lib.data.photo_folder import write_photo_folder  # noqa: E402
from kamim_lib.runtime import create_runtime, tf32_matmuls  # noqa: E402
from suite_sections.common import synchronize  # noqa: E402
from suite_sections.throughput import STEP_MODES, StepBench  # noqa: E402


def profile_mode(bench: StepBench, mode: str, steps: int, rows: int, device: torch.device) -> tuple[str, dict]:
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    synchronize(device)
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        for _ in range(steps):
            bench.step(mode)
        synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    averages = prof.key_averages()
    table = averages.table(sort_by=sort_by, row_limit=rows)
    attribute = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"

    def self_time(event) -> float:
        return float(getattr(event, attribute, None) or getattr(event, "self_cuda_time_total", 0.0) or 0.0)

    total = sum(self_time(event) for event in averages) or 1.0
    top = sorted(averages, key=self_time, reverse=True)[:rows]
    return table, {"seconds_per_step_profiled": seconds, "sorted_by": sort_by,
                   "top": [{"name": event.key, "calls": event.count, "self_us": round(self_time(event), 1),
                            "share": round(self_time(event) / total, 4)} for event in top]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--device", default=None, help="override the profile's device (cpu or cuda)")
    parser.add_argument("--steps", type=int, default=None, help="profiled steps per mode (default: 10; smoke 2)")
    parser.add_argument("--rows", type=int, default=30, help="rows of each table")
    parser.add_argument("--eager", action="store_true", help="profile the eager step instead of the compiled one")
    args = parser.parse_args(argv)
    settings = dict(PROFILES["smoke" if args.smoke else "full"])
    if args.device:
        settings["device"] = args.device
    if settings["device"] == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA GPU is visible; run with --smoke on a CPU machine.")
    if settings["threads"]:
        torch.set_num_threads(settings["threads"])
    steps = args.steps or (2 if args.smoke else 10)
    runtime = create_runtime(settings["device"], "auto")
    device = runtime.device
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "model": settings["model"], "img_size": settings["img_size"],
              "batch": settings["step_batch"], "compiled": not args.eager,
              "compile_backend": settings["compile_backend"], "steps": steps, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="profile_", dir=args.out) as scratch, \
            tf32_matmuls(device.type == "cuda"):
        root = write_photo_folder(Path(scratch) / "jpegs", train_images=max(settings["step_batch"], 16),
                                  val_images=8)
        bench = StepBench(settings, device, root, runtime, compiled=not args.eager)
        for mode in STEP_MODES:
            start = time.perf_counter()
            for _ in range(settings["warmup"] + 1):  # compilation and allocator warm-up
                bench.step(mode)
            synchronize(device)
            warm = time.perf_counter() - start
            table, record = profile_mode(bench, mode, steps, args.rows, device)
            (args.out / f"profile_{mode}.txt").write_text(
                f"{mode}: {report['model']} at {report['img_size']} px, batch {report['batch']}, "
                f"{'compiled' if not args.eager else 'eager'}, {steps} steps on {report['device']}\n\n{table}\n")
            report["modes"][mode] = {"warmup_s": round(warm, 2), **record}
            print(f"[profile] {mode}: {record['seconds_per_step_profiled'] * 1000:.1f} ms/step (profiled)",
                  flush=True)
    simmim = report["modes"]["simmim"]["seconds_per_step_profiled"]
    for mode, record in report["modes"].items():
        record["ratio_to_simmim"] = round(record["seconds_per_step_profiled"] / simmim, 4)
    (args.out / "profile_steps.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({mode: record["ratio_to_simmim"] for mode, record in report["modes"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
