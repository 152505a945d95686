"""The paper path on one accelerator, correct, fast and measured: one command that fits a short GPU window.

    python benchmarks/device_suite.py --out DIR                 # one GPU: <= 8 minutes (--budget-s guards it)
    python benchmarks/device_suite.py --smoke --out DIR         # the same code paths on the CPU, tiny sizes

Writes ``DIR/device_suite.json`` and prints a table. Sections (each timed, guarded by the budget, and recorded as
``{"status": "ok" | "skipped" | "error", ...}`` instead of crashing the run):

a. ``correctness``: torch FAST on the device equals OpenCV on the bundled photos (faithful and points maps, with and
   without non-maximum suppression); KAMIM weights on the device equal the CPU's (OpenCV); a bf16 pretraining step
   is finite; a run interrupted mid-epoch and resumed equals the uninterrupted one (deterministic kernels, stated
   tolerance); the ``decode_on_device`` crop on the device is within one grey level of the CPU's (same decoded
   images); 4:4:4 JPEGs decode on the device exactly as on the CPU. Measured, not checked (``measured``): the device
   decode's difference on 4:2:0 JPEGs (nvJPEG upsamples the chroma differently from libjpeg-turbo).
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
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # kamim_lib from this checkout
sys.path.insert(0, str(HERE))  # sibling benchmarks (photos, FLOP formula, peaks), the suite's sections

from kamim_lib.data.photo_folder import write_photo_folder  # noqa: E402
from kamim_lib.runtime import create_runtime, tf32_matmuls  # noqa: E402
from suite_sections.common import error_record, machine  # noqa: E402
from suite_sections.correctness import section_correctness  # noqa: E402
from suite_sections.paper_run import section_paper_run  # noqa: E402
from suite_sections.pipeline import section_pipeline  # noqa: E402
from suite_sections.throughput import add_compiled_steps, section_keypoints, section_train_step  # noqa: E402

SECTIONS = ("correctness", "keypoints", "train_step", "pipeline", "paper_run")

# The full profile steps with batch 256 (not the paper's micro-batch 128): the same shape as the keypoint benchmark,
# so the compiled keypoint function is compiled once for both, and a batch large enough for the GPU's peak rate.
# Sizes of the two profiles. "estimate_s" is what each section needs at most on its machine (the budget guard skips
# a section when less is left); full = one H100 with 16 cores, smoke = a 2-core CPU.
PROFILES = {
    "full": {"device": "cuda", "model": "vit_b", "img_size": 192, "mask_patch_size": 32, "step_batch": 256,
             "keypoint_batch": 256, "correct_images": 64, "steps": 20, "warmup": 5, "rounds": 3,
             "train_images": 2048, "val_images": 256, "workers": None, "pipeline_batches": 32,
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


class Clock:
    """Wall time and the budget of the run."""

    def __init__(self, budget_s: float):
        self.start, self.budget_s = time.perf_counter(), budget_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()


# ------------------------------------------------------------------------------------------------- report ---

def _two_decimals(value) -> str:
    """A loss for the table: 2 decimals, or as it is when missing (None)."""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def print_table(report: dict) -> None:
    rows = [("section", "status", "figures")]
    for name in SECTIONS:
        section = report["sections"].get(name, {})
        status = section.get("status", "?")
        figures = ""
        if status == "ok" and name == "correctness":
            figures = ", ".join(f"{check}: {'pass' if result['passed'] else 'FAIL'}"
                                for check, result in section["checks"].items())
            decode_420 = section.get("measured", {}).get("device_decode_420", {})
            if "max_grey_difference" in decode_420:
                figures += (f"; measured device_decode_420: max {decode_420['max_grey_difference']}, mean "
                            f"{decode_420['mean_grey_difference']:.2f}, share > 1 {decode_420['share_over_1']:.1%}")
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
            first, last = (runs["pretrain"].get(key) for key in ("train_loss_first_epoch", "train_loss_last_epoch"))
            figures = (f"pretrain loss {_two_decimals(first)} -> {_two_decimals(last)}; exit codes "
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
                report["sections"][name] = error_record(error)
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
