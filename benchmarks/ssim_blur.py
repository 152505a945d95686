"""SSIM's Gaussian blur on the CPU: conv2d of a padded copy, a banded-matrix product of a padded copy, and the
product with the padding folded into the matrices (what kamim uses).

    python benchmarks/ssim_blur.py [--images 32] [--size 192] [--repeats 3] [--dtype float64]

Prints the best of ``repeats`` wall times of each, their ratios to conv2d, and the largest difference, for the five
local moments of one batch (5 x images x 3 maps), which is what one SSIM map of a batch blurs.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from kamim_lib.analysis.ssim import _gaussian_blur, gaussian_window


def symmetric_pad(x: torch.Tensor, radius: int) -> torch.Tensor:
    """scipy's \"reflect\" padding of the last two dims as a copy (d c b a | a b c d)."""
    x = torch.cat((x[..., :radius, :].flip(-2), x, x[..., -radius:, :].flip(-2)), dim=-2)
    return torch.cat((x[..., :radius].flip(-1), x, x[..., -radius:].flip(-1)), dim=-1)


def conv2d_blur(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """The separable filter as two conv2d passes over a padded copy (kamim before the banded product)."""
    padded = symmetric_pad(x, taps.shape[0] // 2).unsqueeze(1)
    blurred = F.conv2d(F.conv2d(padded, taps.reshape(1, 1, 1, -1)), taps.reshape(1, 1, -1, 1))
    return blurred.squeeze(1)


def banded_blur(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Banded (size + 2r, size) matrices applied to a padded copy (kamim before the padding was folded in)."""
    radius = taps.shape[0] // 2
    height, width = x.shape[-2:]

    def band(size: int) -> torch.Tensor:
        matrix = torch.zeros(size + 2 * radius, size, dtype=taps.dtype)
        columns = torch.arange(size)
        for offset, tap in enumerate(taps):
            matrix[columns + offset, columns] = tap
        return matrix

    return band(height).T @ (symmetric_pad(x, radius) @ band(width))


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
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    maps = torch.rand(5 * args.images * 3, args.size, args.size, dtype=dtype,
                      generator=torch.Generator().manual_seed(0))
    taps = gaussian_window(1.5, dtype)
    conv_s, conv_out = best_time(conv2d_blur, maps, taps, repeats=args.repeats)
    print(f"{maps.shape[0]} maps of {args.size}x{args.size}, {args.dtype}, {torch.get_num_threads()} threads")
    print(f"conv2d of a padded copy   {conv_s:.3f} s")
    for name, blur in (("banded, padded copy", banded_blur), ("banded, padding folded", _gaussian_blur)):
        seconds, out = best_time(blur, maps, taps, repeats=args.repeats)
        print(f"{name:<25} {seconds:.3f} s   {conv_s / seconds:.2f}x conv2d   "
              f"max |difference| {(conv_out - out).abs().max().item():.1e}")


if __name__ == "__main__":
    main()
