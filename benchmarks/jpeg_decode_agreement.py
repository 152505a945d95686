"""How far nvJPEG's decode (torchvision ``decode_jpeg(device="cuda")``) is from libjpeg-turbo's (the CPU path, what
PIL and the original code use), and where the difference comes from: chroma subsampling, decoding, or the crop.

    python benchmarks/jpeg_decode_agreement.py [--device cuda] [--images 64]

Prints, per JPEG chroma subsampling (4:2:0 as cameras and ImageNet, 4:4:4), the grey-level difference of the
full decoded images (max, mean, share of values off by more than 1) and of the same crop taken on either device
from the CPU-decoded image (isolates the resize kernel). The measures live in ``kamim_lib.data.decode_agreement``
(the device suite's correctness section uses them too).
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kamim_lib.data.decode_agreement import (CHROMA_SUBSAMPLINGS, crop_difference, decode_rgb,  # noqa: E402
                                             grey_difference, photo_jpegs)

# One crop for every image: the top-left 64 x 64 pixels resized to 48 and flipped horizontally.
CROP_PARAMS, CROP_SIZE = (0, 0, 64, 64, 0, 1), 48


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=64)
    args = parser.parse_args()

    for subsampling in reversed(CHROMA_SUBSAMPLINGS):  # 4:2:0 first, as in the committed output
        encoded = photo_jpegs(args.images, subsampling)
        on_cpu = decode_rgb(encoded, "cpu")
        pil = [torch.from_numpy(np.array(Image.open(io.BytesIO(item.numpy().tobytes())).convert("RGB")))
               .permute(2, 0, 1) for item in encoded]
        rows = {"decode device vs cpu": grey_difference(decode_rgb(encoded, args.device), on_cpu),
                "PIL vs torchvision cpu": grey_difference(pil, on_cpu),
                "crop device vs cpu (same input)": crop_difference(on_cpu, [CROP_PARAMS] * len(on_cpu), CROP_SIZE,
                                                                   args.device)}
        for name, row in rows.items():
            print(f"{subsampling:6} {name:32} max {row['max']:3d}  mean {row['mean']:.4f}  "
                  f"share>1 {row['share_over_1']:.5f}")


if __name__ == "__main__":
    main()
