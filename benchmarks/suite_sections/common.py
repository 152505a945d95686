"""What the device suite's sections share: device timing helpers, the machine description, the configuration of
the pretraining step on the suite's JPEG folder, and how a failed part is recorded."""
from __future__ import annotations

import os
import platform
import resource
import shutil
import time
import traceback
from pathlib import Path

import torch

import keypoints as keypoint_bench  # benchmarks/keypoints.py (the suite puts benchmarks/ on sys.path)
from kamim_lib.config import load_config

REPO = Path(__file__).resolve().parents[2]
PAPER_CONFIG = REPO / "params" / "train" / "paper.yaml"


def error_record(error: Exception) -> dict:
    """How a part that raised is stored in the JSON (the suite goes on with the next part)."""
    return {"status": "error", "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(limit=10)}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float:
    """Peak memory: CUDA's allocator peak since the last reset, or the process's resident high-water mark on CPU."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)  # KiB -> GiB (Linux)


def pretrain_config(settings: dict, root: Path, **overrides):
    """The profile's pretraining configuration on the JPEG folder ``root``, with overrides."""
    base = {"model": settings["model"], "img_size": settings["img_size"],
            "mask_patch_size": settings["mask_patch_size"], "batch_size": settings["step_batch"],
            "effective_batch_size": None, "device": settings["device"], "num_workers": 0, "progress": False,
            "dataset": "imagefolder", "data_root": str(root)}
    return load_config({**base, **overrides}, section="pretrain")


def machine(device: torch.device) -> dict:
    import cv2
    import torchvision

    info = {"cpu_model": keypoint_bench.cpu_model(), "cpus": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()), "python": platform.python_version(),
            "torch": torch.__version__, "torchvision": torchvision.__version__, "opencv": cv2.__version__,
            "device": str(device), "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    # DataLoader workers hand batches over in /dev/shm; a small one (containers) makes workers die with a bus error.
    info["dev_shm_gib"] = round(shutil.disk_usage("/dev/shm").total / 2**30, 2) if Path("/dev/shm").is_dir() else None
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


