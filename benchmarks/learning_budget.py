"""Does pretraining learn within a budget? Held-out masked L1 against the image-blind predictor, per case.

Each case is a data set, a method and engine overrides on one training configuration (default
``params/train/smoke.yaml``: the smoke reproduction's budget). Every case is pretrained from scratch (in a
temporary folder, one run per seed) and measured with :mod:`kamim_paper.evidence.reconstruction`: the unweighted
masked L1 on the masked pixels of the validation images, beside the image-blind predictor (per-pixel median of
augmented training crops) and a random-init model of the same architecture. A model has learnt to use the visible
pixels when its ratio to the image-blind predictor is clearly below 1; the target of the evidence issue is
≤ :data:`TARGET_RATIO`.

    python benchmarks/learning_budget.py                              # the default cases, seed 0
    python benchmarks/learning_budget.py --seeds 0 1 --out /tmp/lb.json
    python benchmarks/learning_budget.py --case "photo_crops kamim epochs=6" --case "textured_digits simmim"
    python benchmarks/learning_budget.py --smoke --out /tmp/lb.json   # two tiny cases (the test runs this)

A case is written ``"DATASET METHOD [KEY=VALUE ...]"`` (the overrides of ``kamim pretrain --set``). Seconds are the
wall time of pretraining (mean over seeds), on whatever machine ran it: the JSON records the device and the load.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # kamim_lib from this checkout
DEFAULT_CONFIG = REPO / "params" / "train" / "smoke.yaml"
TARGET_RATIO = 0.8

#: The default cases: the smoke budget for both methods on both embedded photo sets, then longer budgets.
DEFAULT_CASES = (
    "textured_digits simmim",
    "textured_digits kamim",
    "photo_crops simmim",
    "photo_crops kamim",
    "photo_crops kamim epochs=6",
    "textured_digits simmim epochs=6",
    "textured_digits kamim epochs=6",
)
#: ``--smoke``: two tiny cases that exercise every step in seconds.
SMOKE_CASES = (
    "textured_digits simmim epochs=1 max_train_samples=64 num_workers=0",
    "photo_crops kamim epochs=1 max_train_samples=64 num_workers=0",
)
#: The config fields the baselines depend on (held-out images and masks, augmentation, architecture).
BASELINE_FIELDS = ("dataset", "dataset_options", "data_root", "img_size", "model", "final_norm", "mask_patch_size",
                   "mask_ratio", "max_train_samples")


@dataclass(frozen=True)
class Case:
    """One pretraining setting: ``label`` as written, and the overrides it stands for."""

    label: str
    dataset: str
    method: str
    overrides: tuple[str, ...]


def parse_case(text: str) -> Case:
    """``"DATASET METHOD [KEY=VALUE ...]"`` -> :class:`Case` (raises ``ValueError`` saying the expected form)."""
    words = text.split()
    if len(words) < 2 or "=" in words[0] or "=" in words[1] or any("=" not in word for word in words[2:]):
        raise ValueError(f"case {text!r} is not of the form 'DATASET METHOD [KEY=VALUE ...]', "
                         "e.g. 'photo_crops kamim epochs=6'.")
    return Case(" ".join(words), words[0], words[1], tuple(words[2:]))


def case_config(case: Case, config_path: Path, seed: int, out_dir: Path):
    """The validated pretraining configuration of ``case`` for ``seed`` (raises ``ConfigError`` on bad input)."""
    from kamim_lib.config.loading import load_config

    overrides = [f"dataset={case.dataset}", f"method={case.method}", *case.overrides, f"seed={seed}",
                 f"out_dir={out_dir}", "progress=false"]
    return load_config(str(config_path), overrides, section="pretrain")


def baselines(config, seeds, cache: dict) -> tuple[object, dict]:
    """``(held-out set, {"image_blind": L1, "random_init": L1})`` for the geometry of ``config``, computed once per
    distinct :data:`BASELINE_FIELDS`."""
    from kamim_paper.evidence import reconstruction

    key = repr([getattr(config, field) for field in BASELINE_FIELDS])
    if key not in cache:
        held_out = reconstruction.held_out_set(config)
        cache[key] = (held_out, {"image_blind": reconstruction.image_blind_masked_l1(config, held_out),
                                 "random_init": reconstruction.random_init_masked_l1(config, held_out, seeds)})
    return cache[key]


def run_case(case: Case, config_path: Path, seeds, work_dir: Path, cache: dict) -> dict:
    """Pretrain ``case`` once per seed and measure it; one JSON-ready row."""
    from kamim_lib.engine.fit import fit
    from kamim_paper.evidence import reconstruction
    from kamim_lib.models import load_pretrained

    seconds, l1 = [], []
    for seed in seeds:
        config = case_config(case, config_path, seed, work_dir)
        start = time.perf_counter()
        summary = fit(config)
        seconds.append(time.perf_counter() - start)
        held_out, reference = baselines(config, seeds, cache)
        model = load_pretrained(summary["checkpoint"], config.model, strict=True, img_size=config.img_size,
                                final_norm=config.final_norm)
        l1.append(reconstruction.model_masked_l1(model, held_out))
    masked_l1 = sum(l1) / len(l1)
    ratio = masked_l1 / reference["image_blind"]
    return {"case": case.label, "dataset": case.dataset, "method": case.method, "overrides": list(case.overrides),
            "epochs": config.epochs, "optimizer_steps": summary.get("optimizer_steps"),
            "seeds": list(seeds), "seconds": sum(seconds) / len(seconds), "seconds_per_seed": seconds,
            "masked_l1": masked_l1, "masked_l1_per_seed": l1, **reference,
            "held_out_images": int(len(held_out.images)), "ratio_to_image_blind": ratio,
            "meets_target": ratio <= TARGET_RATIO}


def table(rows) -> str:
    """The printed (markdown) table of the rows."""
    lines = ["| case | seconds | held-out masked L1 | image-blind | random-init | ratio to image-blind "
             f"| ≤ {TARGET_RATIO} |", "|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        lines.append(f"| {row['case']} | {row['seconds']:.0f} | {row['masked_l1']:.4f} | {row['image_blind']:.4f} "
                     f"| {row['random_init']:.4f} | {row['ratio_to_image_blind']:.3f} "
                     f"| {'yes' if row['meets_target'] else 'no'} |")
    return "\n".join(lines)


def machine() -> dict:
    """Where it ran: device, thread count and the load at the start (the machine may be shared)."""
    import torch

    from kamim_lib.provenance import provenance

    return {**provenance(), "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="training configuration (YAML)")
    parser.add_argument("--case", action="append", metavar="'DATASET METHOD [KEY=VALUE ...]'",
                        help="a case to run (repeatable); default: the cases of DEFAULT_CASES")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="pretraining seeds per case (default 0)")
    parser.add_argument("--smoke", action="store_true", help="two tiny cases (1 epoch, 64 training images)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.smoke and args.case:
        parser.error("--smoke runs its own two cases; drop --case or --smoke.")
    if not args.config.is_file():
        parser.error(f"--config {args.config} is not a file.")
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"--seeds must be ints >= 0, got {args.seeds}.")
    try:
        cases = [parse_case(text) for text in (SMOKE_CASES if args.smoke else args.case or DEFAULT_CASES)]
        with tempfile.TemporaryDirectory(prefix="learning_budget_") as work_dir:
            for case in cases:  # every case's configuration is checked before anything trains
                case_config(case, args.config, args.seeds[0], Path(work_dir))
            started = machine()
            cache, rows = {}, []
            for case in cases:
                rows.append(run_case(case, args.config, args.seeds, Path(work_dir), cache))
                print(f"{case.label}: {rows[-1]['seconds']:.0f} s, ratio {rows[-1]['ratio_to_image_blind']:.3f}",
                      flush=True)
    except ValueError as error:  # ConfigError is a ValueError: one message, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table(rows))
    if args.out:
        record = {"what": "held-out masked L1 vs the image-blind predictor per pretraining case",
                  "command": "python benchmarks/learning_budget.py " + " ".join(argv if argv is not None
                                                                              else sys.argv[1:]),
                  "config": os.path.relpath(args.config.resolve(), REPO), "target_ratio": TARGET_RATIO,
                  "machine": started, "cases": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
