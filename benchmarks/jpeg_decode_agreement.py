"""How far nvJPEG's decode (torchvision ``decode_jpeg(device="cuda")``) is from libjpeg-turbo's (the CPU path, what
PIL and the original code use), and where the difference comes from: chroma subsampling, decoding, or the crop.

    python benchmarks/jpeg_decode_agreement.py [--device cuda] [--images 64]

Prints, per JPEG chroma subsampling (4:2:0 as cameras and ImageNet, 4:4:4), the grey-level difference of the
full decoded images (max, mean, share of values off by more than 1) and of the same crop taken on either device
from the CPU-decoded image (isolates the resize kernel).
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
from kamim_lib.data.device_pipeline import crop_resize_flip  # noqa: E402
from kamim_lib.sample_photos import PHOTO_NAMES, load_photo  # noqa: E402


def encoded_windows(count: int, subsampling: int, seed: int = 0) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    out = []
    for index in range(count):
        photo = load_photo(PHOTO_NAMES[index % len(PHOTO_NAMES)])
        height, width = photo.shape[:2]
        top, left = int(rng.integers(0, height // 2)), int(rng.integers(0, width // 2))
        window = Image.fromarray(photo[top:top + height // 2, left:left + width // 2]).convert("RGB")
        buffer = io.BytesIO()
        window.save(buffer, format="JPEG", quality=90, subsampling=subsampling)
        out.append(torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8))
    return out


def difference(a: torch.Tensor, b: torch.Tensor) -> dict:
    delta = (a.int() - b.int()).abs()
    return {"max": int(delta.max()), "mean": round(float(delta.float().mean()), 4),
            "share_over_1": round(float((delta > 1).float().mean()), 5)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=64)
    args = parser.parse_args()
    from torchvision.io import ImageReadMode, decode_jpeg

    for subsampling, label in ((2, "4:2:0"), (0, "4:4:4")):
        encoded = encoded_windows(args.images, subsampling)
        on_cpu = decode_jpeg(encoded, mode=ImageReadMode.RGB, device="cpu")
        on_device = [image.cpu() for image in decode_jpeg(encoded, mode=ImageReadMode.RGB, device=args.device)]
        pil = [torch.from_numpy(np.array(Image.open(io.BytesIO(item.numpy().tobytes())).convert("RGB")))
               .permute(2, 0, 1) for item in encoded]
        decode = [difference(a, b) for a, b in zip(on_device, on_cpu)]
        pil_vs_cpu = [difference(a, b) for a, b in zip(pil, on_cpu)]
        params = [0, 0, 64, 64, 0, 1]
        crops = [difference(crop_resize_flip(image.to(args.device), params, 48).cpu(),
                            crop_resize_flip(image, params, 48)) for image in on_cpu]
        for name, rows in (("decode device vs cpu", decode), ("PIL vs torchvision cpu", pil_vs_cpu),
                           ("crop device vs cpu (same input)", crops)):
            print(f"{label:6} {name:32} max {max(r['max'] for r in rows):3d}  mean "
                  f"{np.mean([r['mean'] for r in rows]):.4f}  share>1 {np.mean([r['share_over_1'] for r in rows]):.5f}")


if __name__ == "__main__":
    main()
