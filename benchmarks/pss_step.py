"""Fine-tuning step time under PSS token dropping: forward + backward + AdamW of the fine-tune classifier at each
drop ratio d (K = round((1 − d)(N + 1)) − 1 patch tokens kept), with the speed-up over d = 0 and, per scorer, the
scoring cost (the keypoint scorer runs the torch FAST detector on every batch).

PSS (arXiv 2208.09520) reports 24.6 h → 17.0 h (−31 %) for a ViT-B fine-tune whose cyclic schedule spends about
equal time at d = 0, .2, .4, .6 and half as much at .8 (PEERS §3.5); the "schedule mean" line weights the measured
step times that way to predict the saving of that schedule on this machine.

    python benchmarks/pss_step.py --model vit_nano --img-size 64 --batch-size 32 --device cpu
    python benchmarks/pss_step.py --model vit_b --img-size 224 --batch-size 128 --device cuda
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kamim_lib.engine import build_optimizer  # noqa: E402
from kamim_lib.engine.pss_classifier import TokenDropClassifier  # noqa: E402
from kamim_lib.models import create_model  # noqa: E402
from kamim_lib.models.pss import TokenDrop, keep_count  # noqa: E402
from kamim_lib.runtime import create_runtime  # noqa: E402

RATIOS = (0.0, 0.2, 0.4, 0.6, 0.8)
# Share of fine-tuning steps at each ratio under PSS's cyclic(0.8, −0.1) schedule (PEERS §3.5).
CYCLIC_SHARES = {0.0: 2 / 9, 0.2: 2 / 9, 0.4: 2 / 9, 0.6: 2 / 9, 0.8: 1 / 9}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_time(model, optimizer, images, labels, runtime, steps: int) -> float:
    """Median seconds of one optimiser step (after one warm-up step)."""
    timings = []
    for index in range(steps + 1):
        start = time.perf_counter()
        with runtime.autocast():
            loss = F.cross_entropy(model(images).float(), labels)
        loss.backward()
        runtime.optimizer_step(optimizer)
        optimizer.zero_grad(set_to_none=True)
        runtime.step_end()
        synchronize(runtime.device)
        if index:
            timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="vit_nano")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--scorers", nargs="+", default=["l1", "keypoints"])
    parser.add_argument("--relative-position-bias", action="store_true", help="PSS's per-block RPB")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    runtime = create_runtime(args.device, args.precision)
    torch.manual_seed(0)
    images = torch.randn(args.batch_size, 3, args.img_size, args.img_size, device=runtime.device)
    labels = torch.randint(0, 10, (args.batch_size,), device=runtime.device)
    report = {"model": args.model, "img_size": args.img_size, "batch_size": args.batch_size,
              "device": str(runtime.device), "relative_position_bias": args.relative_position_bias, "scorers": {}}
    for scorer in args.scorers:
        encoder = create_model(args.model, img_size=args.img_size,
                               relative_position_bias=args.relative_position_bias).encoder
        model = TokenDropClassifier(encoder, 10, token_drop=TokenDrop(scorer, patch_size=encoder.arch.patch_size))
        model.to(runtime.device).train()
        optimizer = build_optimizer(model, lr=1e-4, weight_decay=0.05, betas=(0.9, 0.999))
        rows = []
        for ratio in RATIOS:
            model.set_drop_ratio(ratio)
            seconds = step_time(model, optimizer, images, labels, runtime, args.steps)
            rows.append({"drop_ratio": ratio, "patch_tokens": keep_count(encoder.token_grid ** 2, ratio),
                         "step_s": round(seconds, 5), "images_per_s": round(args.batch_size / seconds, 1)})
        full = rows[0]["step_s"]
        for row in rows:
            row["speedup"] = round(full / row["step_s"], 3)
        schedule = sum(CYCLIC_SHARES[row["drop_ratio"]] * row["step_s"] for row in rows)
        report["scorers"][scorer] = {"rows": rows, "cyclic_schedule_time_saved_pct": round(100 * (1 - schedule / full), 1)}
        print(f"scorer {scorer}:")
        for row in rows:
            print(f"  d={row['drop_ratio']:.1f}  K={row['patch_tokens']:4d}  {row['step_s'] * 1e3:8.2f} ms/step  "
                  f"{row['images_per_s']:8.1f} img/s  x{row['speedup']:.2f}")
        print(f"  cyclic(0.8, -0.1) schedule: {report['scorers'][scorer]['cyclic_schedule_time_saved_pct']} % "
              "less step time than d = 0 (PSS README: 31 % on ViT-B)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
