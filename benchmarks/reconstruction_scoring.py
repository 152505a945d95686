"""Scoring one batch of section 10's whole-validation reconstructions on the CPU: the original's SSIM convention in
float64 (kamim before) against float32 (the original's torchmetrics on the model's float32 outputs, kamim now), and
one whole ``ScoreAccumulator.update`` (both conventions, PSNR and SSIM, masked and full).

    python benchmarks/reconstruction_scoring.py [--images 32] [--size 192] [--repeats 3]

Prints the best of ``repeats`` wall times, their ratio and the largest difference of the per-image SSIMs. A batch of
section 10 calls ``update`` four times (SimMIM, KAMIM, random init, the image-blind floor).
"""
from __future__ import annotations

import argparse

import torch

from kamim_lib.analysis.ssim import ssim
from kamim_paper.experiments.reconstruction_scores import ScoreAccumulator
from ssim_blur import best_time  # this folder's benchmark: run as a script, benchmarks/ is on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(args.images, 3, args.size, args.size, generator=generator)
    prediction = target + 0.5 * torch.randn(target.shape, generator=generator)
    grid = args.size // 16
    mask = (torch.rand(args.images, grid, grid, generator=generator) < 0.6).long()
    data_range = max(float(prediction.max() - prediction.min()), float(target.max() - target.min()))
    double_s, double_out = best_time(ssim, prediction.double(), target.double(), None, data_range,
                                     repeats=args.repeats)
    single_s, single_out = best_time(ssim, prediction, target, None, data_range, repeats=args.repeats)
    update_s, _ = best_time(ScoreAccumulator().update, prediction, target, mask, repeats=args.repeats)
    print(f"{args.images} images of {args.size}x{args.size}, {torch.get_num_threads()} threads")
    print(f"original-convention SSIM, float64   {double_s:.3f} s")
    print(f"original-convention SSIM, float32   {single_s:.3f} s   ({double_s / single_s:.2f}x faster, "
          f"max |difference| {(double_out - single_out.double()).abs().max().item():.1e})")
    print(f"ScoreAccumulator.update (all)       {update_s:.3f} s   (x4 per batch of section 10)")


if __name__ == "__main__":
    main()
