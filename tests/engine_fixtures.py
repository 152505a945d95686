"""Tiny training configurations for the engine tests (vit_nano on the embedded digits, CPU, seconds per run)."""
from __future__ import annotations

import torch

from kamim_lib.config import load_config

TINY = {
    "model": "vit_nano", "dataset": "digits", "img_size": 32, "batch_size": 16, "effective_batch_size": None,
    "epochs": 2, "warmup_epochs": 0.5, "max_train_samples": 128, "max_eval_samples": 64, "num_workers": 0,
    "num_threads": 1, "device": "cpu", "progress": False,
    "pretrain": {"mask_patch_size": 16, "lr": 1e-3, "min_lr": 1e-5},
    "finetune": {"lr": 2e-3, "augment": "eval", "mixup_alpha": 0.0, "cutmix_alpha": 0.0},
    "linprobe": {"lr": 1e-2, "augment": "eval", "mixup_alpha": 0.0, "cutmix_alpha": 0.0, "probe_layer": 4,
                 "knn_k": 5},
}


def tiny_config(out_dir, section: str = "pretrain", **overrides):
    """The TINY configuration of ``section`` writing under ``out_dir``, with typed overrides."""
    return load_config({**TINY, "out_dir": str(out_dir)}, overrides, section=section)


def state_dicts_equal(first: dict, second: dict, *, atol: float = 0.0) -> bool:
    """Same keys and every tensor equal (exactly, or within ``atol``)."""
    if first.keys() != second.keys():
        return False
    return all(torch.allclose(first[key].float(), second[key].float(), rtol=0, atol=atol) for key in first)
