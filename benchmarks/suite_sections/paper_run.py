"""Section e: the paper configuration end to end through the ``kamim`` command, shortened."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from .common import PAPER_CONFIG, REPO

def section_paper_run(settings, device, root, work: Path, workers: int) -> dict:
    """``kamim pretrain`` / ``linprobe`` / ``finetune`` with params/train/paper.yaml, shortened, on the JPEGs."""
    from kamim_paper.cli import main as kamim

    epochs = settings["paper_epochs"]
    shared = ["dataset=imagefolder", f"data_root={root}", f"epochs={epochs}", "warmup_epochs=1",
              f"batch_size={settings['paper_batch']}", f"effective_batch_size={settings['paper_effective_batch']}",
              f"num_workers={workers}", f"device={device.type}", "progress=false"]
    # Keys both commands have are given twice: as themselves and, with the pretrain. prefix, as the settings of the
    # pretrain run that linprobe/finetune look for; pretrain-only keys and model/img_size/out_dir name it directly.
    common = [*shared, f"out_dir={work / 'paper'}",
              f"model={settings['model']}", f"img_size={settings['img_size']}", "checkpoint_every_steps=0",
              f"keypoints_on={'device' if device.type == 'cuda' else 'workers'}",
              f"mask_patch_size={settings['mask_patch_size']}"]
    result = {"config": str(PAPER_CONFIG.relative_to(REPO)), "overrides": common, "runs": {}}
    # The paper's MixUp groups (mixup_group_size=1024 images share one draw) need batches that divide them; this
    # shortened run's batches are smaller, so MixUp is drawn per micro-batch here.
    per_batch_mixup = "mixup_group_size=null"
    for command, extra in (("pretrain", [f"compile={str(settings['paper_compile']).lower()}"]),
                           ("linprobe", ["knn_k=5", per_batch_mixup, *(f"pretrain.{item}" for item in shared)]),
                           ("finetune", [per_batch_mixup, *(f"pretrain.{item}" for item in shared)])):
        start = time.perf_counter()
        code = kamim([command, "--config", str(PAPER_CONFIG), "--set", *common, *extra])
        run = {"exit_code": code, "seconds": round(time.perf_counter() - start, 1), "extra_overrides": extra}
        summaries = sorted((work / "paper" / command).glob("*/summary.json"))
        if summaries:
            summary = json.loads(summaries[-1].read_text())
            run.update({key: summary.get(key) for key in ("status", "train_loss_first_epoch", "train_loss_last_epoch",
                                                          "val_top1", "knn_top1", "session_images_per_s")})
        result["runs"][command] = run
    first = result["runs"]["pretrain"].get("train_loss_first_epoch")
    last = result["runs"]["pretrain"].get("train_loss_last_epoch")
    result["pretrain_loss_finite"] = first is not None and last is not None and math.isfinite(first) \
        and math.isfinite(last)
    result["pretrain_loss_falling"] = bool(result["pretrain_loss_finite"] and last < first)
    result["passed"] = result["pretrain_loss_finite"] and all(run["exit_code"] == 0 for run in result["runs"].values())
    return result
