"""SSIM's Gaussian blur in float64 on the CPU: conv2d against the banded-matrix product kamim uses.

    python benchmarks/ssim_blur.py [--images 32] [--size 192] [--repeats 3]

Prints the best of ``repeats`` wall times of both, their ratio, and the largest difference, for the five local
moments of one batch (5 x images x 3 maps), which is what ``reconstruction_metrics`` blurs per batch.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from kamim_lib.analysis.ssim import _gaussian_blur, _symmetric_pad, gaussian_window


def conv2d_blur(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """The separable filter as two conv2d passes (what kamim did before)."""
    padded = _symmetric_pad(x, taps.shape[0] // 2).unsqueeze(1)
    blurred = F.conv2d(F.conv2d(padded, taps.reshape(1, 1, 1, -1)), taps.reshape(1, 1, -1, 1))
    return blurred.squeeze(1)


def best_time(function, *args, repeats: int) -> tuple[float, torch.Tensor]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = function(*args)
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    maps = torch.rand(5 * args.images * 3, args.size, args.size, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(0))
    taps = gaussian_window(1.5, torch.float64)
    conv_s, conv_out = best_time(conv2d_blur, maps, taps, repeats=args.repeats)
    band_s, band_out = best_time(_gaussian_blur, maps, taps, repeats=args.repeats)
    print(f"{maps.shape[0]} maps of {args.size}x{args.size}, float64, {torch.get_num_threads()} threads")
    print(f"conv2d      {conv_s:.3f} s")
    print(f"banded      {band_s:.3f} s")
    print(f"speed-up    {conv_s / band_s:.2f}x   max |difference| {(conv_out - band_out).abs().max().item():.1e}")


if __name__ == "__main__":
    main()
