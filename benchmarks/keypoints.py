"""Throughput of the faithful FAST keypoint map + KAMIM patch weights: OpenCV (one core) vs the torch backend.

The OpenCV figure is what the original pays per data-loader worker (FAST + drawKeypoints per image, one core);
the torch figures are the batched backend on the CPU (with the threads stated) and, when present, on a CUDA GPU.
Both include the density/weight step (``kamim_lib.weighting.keypoint_weights``, w_ps 8, T 0.25).

Inputs are real photos (scikit-image's, RandomResizedCrop scale (0.67, 1) ratio (3/4, 4/3) + flips, as in
pretraining) and, for comparison, uniform noise (FAST's worst case: the most candidate pixels).

    python benchmarks/keypoints.py                       # 192 px, batch 256, writes results/benchmarks/keypoints.json
    python benchmarks/keypoints.py --batch 64 --repeats 3 --threads 1 4 --json /tmp/kp.json

On a machine shared with other jobs, multi-threaded torch CPU figures collapse (OpenMP threads wait on each
other when one is descheduled); the JSON records the load average at the start for that reason.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch

from kamim_lib.keypoints import keypoint_map
from kamim_lib.weighting import keypoint_weights

PHOTO_NAMES = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket",
               "stereo_motorcycle", "brick", "camera", "cell", "clock", "coins", "grass", "gravel", "moon", "page",
               "text")


def load_photos() -> list[np.ndarray]:
    """scikit-image's bundled photos (no download) as uint8 (H, W, 3) RGB."""
    import skimage.data

    photos = []
    for name in PHOTO_NAMES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = getattr(skimage.data, name)()
        except Exception:  # data that would need a download in this scikit-image version
            continue
        image = np.asarray(image[0] if isinstance(image, tuple) else image)
        photos.append(np.ascontiguousarray(np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]))
    return photos


def augmented_crops(photos: list[np.ndarray], batch: int, size: int, seed: int) -> torch.Tensor:
    """uint8 (batch, 3, size, size): random resized crops (scale 0.67-1, ratio 3/4-4/3) with h/v flips."""
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(batch):
        photo = photos[rng.integers(len(photos))]
        height, width = photo.shape[:2]
        for _attempt in range(10):
            area = height * width * rng.uniform(0.67, 1.0)
            ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
            crop_w, crop_h = int(round(np.sqrt(area * ratio))), int(round(np.sqrt(area / ratio)))
            if crop_w <= width and crop_h <= height:
                break
        else:
            crop_h, crop_w = height, width
        top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
        crop = cv2.resize(photo[top:top + crop_h, left:left + crop_w], (size, size), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            crop = crop[::-1]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crops.append(np.ascontiguousarray(crop))
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


def images_per_second(run, batch: int, repeats: int, warmup: int, synchronize=None) -> dict:
    """Time ``run()`` (one batch) ``repeats`` times after ``warmup`` calls; images/s median and best."""
    for _ in range(warmup):
        run()
    if synchronize:
        synchronize()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        if synchronize:
            synchronize()
        seconds.append(time.perf_counter() - start)
    return {"images_per_s_median": batch / statistics.median(seconds), "images_per_s_best": batch / min(seconds),
            "seconds_per_batch": seconds}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> dict:
    description = {
        "cpu_model": cpu_model(), "logical_cpus": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(), "torch": torch.__version__, "opencv": cv2.__version__,
        "numpy": np.__version__, "platform": platform.platform(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return description


def benchmark(images: torch.Tensor, *, repeats: int, warmup: int, thread_counts: list[int]) -> dict:
    """All measurements on one batch of images."""
    batch = images.shape[0]
    results = {}

    def weights(source, backend):
        return lambda: keypoint_weights(source, "fast", 8, 0.25, mode="faithful", backend=backend)

    def map_only(source, backend):
        return lambda: keypoint_map(source, "fast", "faithful", backend)

    # The original's setting: one data-loader worker = one process on one core.
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    results["opencv_1core"] = {
        "map_and_weights": images_per_second(weights(images, "opencv"), batch, repeats, warmup),
        "map_only": images_per_second(map_only(images, "opencv"), batch, repeats, warmup),
        "threads": 1,
    }
    reference = keypoint_map(images, "fast", "faithful", "opencv")
    for threads in thread_counts:
        torch.set_num_threads(threads)
        results[f"torch_cpu_{threads}threads"] = {
            "map_and_weights": images_per_second(weights(images, "torch"), batch, repeats, warmup),
            "map_only": images_per_second(map_only(images, "torch"), batch, repeats, warmup),
            "threads": threads,
            "map_equals_opencv": bool(torch.equal(keypoint_map(images, backend="torch"), reference)),
        }
    if torch.cuda.is_available():
        on_gpu = images.cuda()
        sync = torch.cuda.synchronize
        results["torch_cuda"] = {
            "map_and_weights": images_per_second(weights(on_gpu, "torch"), batch, repeats, max(warmup, 2), sync),
            "map_only": images_per_second(map_only(on_gpu, "torch"), batch, repeats, max(warmup, 2), sync),
            "host_to_device_included": False,
            "map_equals_opencv": bool(torch.equal(keypoint_map(on_gpu, backend="torch").cpu(), reference)),
        }
    results["keypoint_pixels_per_image"] = float(reference.sum() / batch)
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=192, help="image side in pixels (default 192)")
    parser.add_argument("--batch", type=int, default=256, help="images per batch (default 256)")
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per measurement (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed batches first (default 1; CUDA uses >= 2)")
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, os.cpu_count() or 1}),
                        help="torch CPU thread counts to measure (default: 1 and all cores)")
    parser.add_argument("--inputs", choices=("photos", "noise", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="results/benchmarks/keypoints.json", help="where to write the figures")
    args = parser.parse_args(argv)

    machine = machine_description()
    report = {"benchmark": "faithful FAST keypoint map + keypoint_weights (w_ps 8, T 0.25)", "size": args.size,
              "batch": args.batch, "repeats": args.repeats, "machine": machine, "inputs": {}}
    inputs = {}
    if args.inputs in ("photos", "both"):
        inputs["photos"] = augmented_crops(load_photos(), args.batch, args.size, args.seed)
    if args.inputs in ("noise", "both"):
        generator = torch.Generator().manual_seed(args.seed)
        inputs["noise"] = torch.randint(0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8,
                                        generator=generator)
    for name, images in inputs.items():
        report["inputs"][name] = benchmark(images, repeats=args.repeats, warmup=args.warmup,
                                           thread_counts=args.threads)

    print(f"{machine['cpu_model']}, {machine['cpus_available']} CPUs, torch {machine['torch']}, "
          f"OpenCV {machine['opencv']}, CUDA: {machine['cuda_device']}; "
          f"load average {machine['load_average_at_start']}")
    print(f"faithful FAST map + weights, {args.size} px, batch {args.batch}, images/s (median of {args.repeats}):")
    for name, results in report["inputs"].items():
        print(f"  {name} ({results['keypoint_pixels_per_image']:.0f} lit pixels/image):")
        for backend, figures in results.items():
            if isinstance(figures, dict):
                print(f"    {backend:21s} map+weights {figures['map_and_weights']['images_per_s_median']:9.0f}   "
                      f"map only {figures['map_only']['images_per_s_median']:9.0f}")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
