"""Training-step throughput of SimMIM vs KAMIM (keypoint weights computed in DataLoader workers with OpenCV, or on
the training device with the batched torch FAST), the normalised-pixel target, AttMask (one extra no-grad teacher
forward per step, EMA or student teacher), density-guided masking and SemanticMIM (an extra block per depth for the
mask stream; pixel and HOG targets), with each one's step-time ratio to SimMIM,
and model FLOP utilisation (MFU) on a GPU.

For each mode the script runs the real pretraining step of ``kamim_lib.engine`` (normalise on the device, masked
(weighted) L1, backward, gradient clipping, AdamW) on batches from the real data pipeline (``digits`` by default:
RandomResizedCrop + flips + mask + keypoints), and reports

- end-to-end images/s (loader included: this is where keypoints in workers cost time) and compute-only images/s
  (the same step on one pre-loaded batch, keypoints on the device included);
- the KAMIM/SimMIM step-time ratio (end-to-end) for both keypoint placements;
- FLOPs per image of one training step (forward + backward), for ViTs by the analytic count
      FLOPs/img = 6 · [depth · (12·N·D² + 2·N²·D) + M·D·3p²] + 4 · M·D·3p²
  with N tokens (CLS included), M = N - 1 patch tokens, D the width, p the patch: per block qkv + projection
  4·N·D² and MLP 8·N·D² multiply-adds, attention scores and weighted sum 2·N²·D; the decoder's 1x1 convolution
  M·D·3p²; x2 FLOPs per multiply-add, x3 for forward + backward (input and weight gradients) except the patch
  embedding, whose input needs no gradient (x2). LayerNorm, GELU, softmax and the loss are left out. The script
  also reports torch's count (``torch.utils.flop_counter.FlopCounterMode``), which equals the formula without the
  attention term on the CPU (no FLOP rule for CPU fused attention) and includes it on CUDA; Swin uses torch's;
- MFU = achieved FLOP/s / peak FLOP/s (GPU only; peak from --peak-tflops or the table below), from the
  compute-only SimMIM step.

    python benchmarks/train_step.py --model vit_nano --img-size 64 --batch-size 32 --device cpu
    python benchmarks/train_step.py --model vit_b --batch-size 128 --device cuda --num-workers 8
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kamim_lib.config import load_config  # noqa: E402
from kamim_lib.engine import PretrainTask, build_optimizer  # noqa: E402
from kamim_lib.engine.sampling import EpochBatchSampler, PositionSeededDataset  # noqa: E402
from kamim_lib.runtime import create_runtime, fused_optimizer_enabled  # noqa: E402

# Dense BF16 tensor-core peaks from NVIDIA's datasheets (SXM parts), TFLOP/s; pass --peak-tflops for others.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}
# Each mode's pretraining settings; every ratio in the report is a mode's step time over SimMIM's.
MODES = {
    "simmim": {"method": "simmim"},
    "kamim-workers": {"method": "kamim", "keypoints_on": "workers"},
    "kamim-device": {"method": "kamim", "keypoints_on": "device"},
    "simmim-fused_adamw": {"method": "simmim", "fused_optimizer": "on"},
    "kamim-workers-fused_adamw": {"method": "kamim", "keypoints_on": "workers", "fused_optimizer": "on"},
    "simmim-norm_pix": {"method": "simmim", "target": "norm_pix"},
    "attmask-ema": {"method": "simmim", "masking": "attmask", "attmask_teacher": "ema"},
    "attmask-student": {"method": "simmim", "masking": "attmask", "attmask_teacher": "student"},
    "density": {"method": "simmim", "masking": "density"},
    "kamim-device+attmask": {"method": "kamim", "keypoints_on": "device", "masking": "attmask"},
    "semanticmim": {"method": "semanticmim"},
    "semanticmim-hog": {"method": "semanticmim", "semanticmim_target": "hog"},
}


def analytic_vit_flops(model) -> float | None:
    """Training FLOPs per image of a ViT MaskedImageModel by the formula in the module docstring."""
    arch = model.arch
    if getattr(arch, "family", None) != "vit":
        return None
    patches = (arch.img_size // arch.patch_size) ** 2
    tokens, width, pixels = patches + 1, arch.embed_dim, 3 * arch.patch_size ** 2
    per_block = 12 * tokens * width ** 2 + 2 * tokens ** 2 * width
    return 6 * (arch.depth * per_block + patches * width * pixels) + 4 * patches * width * pixels


def counted_flops(task, runtime) -> float:
    """FLOPs of one forward + backward on a single image, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = runtime.to_device(task.collate([task.train_dataset[(0, 0)]]))
    with FlopCounterMode(display=False) as counter:
        task.train_loss(task.model, batch, 0).backward()
    task.model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def build(mode: str, args, runtime):
    config = load_config({"model": args.model, "dataset": args.dataset, "data_root": args.data_root,
                          "img_size": args.img_size, "mask_patch_size": args.mask_patch_size,
                          "batch_size": args.batch_size, "effective_batch_size": None, **MODES[mode],
                          "detector": args.detector,
                          "dataset_options": json.loads(args.dataset_options)}, section="pretrain")
    torch.manual_seed(0)
    task = PretrainTask(config, runtime)
    task.train_dataset = PositionSeededDataset(task.train_dataset)
    task.model.to(runtime.device)
    task.attach(task.model)
    optimizer = build_optimizer(task.model, lr=1e-4, weight_decay=0.05, betas=(0.9, 0.999),
                                fused=fused_optimizer_enabled(config, runtime.device.type))
    return task, optimizer


def train_step(task, optimizer, batch, runtime) -> None:
    loss = task.train_loss(task.model, batch, 0)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(task.model.parameters(), 1.0)
    runtime.optimizer_step(optimizer)
    optimizer.zero_grad(set_to_none=True)
    task.after_optimizer_step(task.model, 1, 100)  # e.g. AttMask's EMA teacher update
    runtime.step_end()


def synchronize(runtime) -> None:
    if runtime.device.type == "cuda":
        torch.cuda.synchronize(runtime.device)


def endless_batches(task, args, runtime):
    """Batches of the real pipeline, epoch after epoch, from persistent workers."""
    sampler = EpochBatchSampler(len(task.train_dataset), args.batch_size, seed=0, shuffle=True, last_batch="drop")
    if sampler.batches_per_epoch == 0:
        raise SystemExit(f"{args.dataset} has fewer than {args.batch_size} images; lower --batch-size.")
    loader = DataLoader(task.train_dataset, batch_sampler=sampler, collate_fn=task.collate,
                        num_workers=args.num_workers, pin_memory=runtime.device.type == "cuda",
                        persistent_workers=args.num_workers > 0, prefetch_factor=4 if args.num_workers else None)
    epoch = 0
    while True:
        sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


class Mode:
    """One benchmarked configuration with its own model, optimiser and loader."""

    def __init__(self, name: str, args, runtime):
        self.name, self.args, self.runtime = name, args, runtime
        self.task, self.optimizer = build(name, args, runtime)
        self.task.model.train()
        self.batches = endless_batches(self.task, args, runtime)
        self.batch = None
        self.end_to_end, self.compute = [], []

    def timed(self, steps: int, *, load: bool) -> float:
        """Seconds per step over ``steps`` steps, loading each batch (load=True) or reusing the last one."""
        synchronize(self.runtime)
        start = time.perf_counter()
        for _ in range(steps):
            if load or self.batch is None:
                self.batch = self.runtime.to_device(next(self.batches))
            train_step(self.task, self.optimizer, self.batch, self.runtime)
        synchronize(self.runtime)
        return (time.perf_counter() - start) / steps

    def round(self) -> None:
        self.timed(self.args.warmup, load=True)  # refill the prefetch queue after the other modes ran
        self.end_to_end.append(self.timed(self.args.steps, load=True))
        self.compute.append(self.timed(self.args.steps, load=False))

    def result(self) -> dict:
        step, compute = statistics.median(self.end_to_end), statistics.median(self.compute)
        result = {"mode": self.name, "step_s": round(step, 5), "images_per_s": round(self.args.batch_size / step, 1),
                  "compute_step_s": round(compute, 5),
                  "compute_images_per_s": round(self.args.batch_size / compute, 1)}
        if self.name == "simmim":
            result["flops_per_image_counted"] = counted_flops(self.task, self.runtime)
            result["flops_per_image_analytic"] = analytic_vit_flops(self.task.model)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="vit_nano")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--mask-patch-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "xla"))
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--dataset-options", default="{}", help="JSON, e.g. '{\"image_size\": 64}'")
    parser.add_argument("--detector", default="fast")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per mode and round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per mode and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (GPU)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runtime = create_runtime(args.device, args.precision)
    modes = [Mode(name, args, runtime) for name in args.modes]
    # Rounds interleave the modes so that a burst of load on a shared machine hits them alike; medians reported.
    for _ in range(args.rounds):
        for mode in modes:
            mode.round()
    results = [mode.result() for mode in modes]
    by_mode = {result["mode"]: result for result in results}
    report = {"model": args.model, "img_size": args.img_size, "batch_size": args.batch_size, "rounds": args.rounds,
              "steps_per_round": args.steps,
              "device": str(runtime.device), "autocast": str(runtime.autocast_dtype), "num_workers": args.num_workers,
              "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
              "python": platform.python_version(), "results": results}
    if "simmim" in by_mode:
        for mode in by_mode:
            if mode != "simmim":
                report[f"ratio_{mode}_over_simmim"] = round(by_mode[mode]["step_s"] / by_mode["simmim"]["step_s"], 3)
                report[f"compute_ratio_{mode}_over_simmim"] = round(
                    by_mode[mode]["compute_step_s"] / by_mode["simmim"]["compute_step_s"], 3)
        flops = by_mode["simmim"]["flops_per_image_analytic"] or by_mode["simmim"]["flops_per_image_counted"]
        if runtime.device.type == "cuda":
            name = torch.cuda.get_device_name(runtime.device)
            report["gpu"] = name
            peak = args.peak_tflops or next((value for key, value in PEAK_BF16_TFLOPS.items() if key in name), None)
            if peak:
                achieved = flops * by_mode["simmim"]["compute_images_per_s"]
                report["mfu_simmim_compute"] = round(achieved / (peak * 1e12), 4)
                report["peak_tflops"] = peak
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
