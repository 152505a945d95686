"""benchmarks/learning_budget.py --smoke: every step runs (pretrain, held-out L1, both baselines) and the JSON has
the fields the README table is built from."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "learning_budget.py"


def _run(arguments, tmp_path, timeout):
    # A clean environment: the script must find kamim_lib from this checkout by itself.
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def test_smoke_run_writes_the_table_and_json(tmp_path):
    out = tmp_path / "learning_budget.json"
    completed = _run(["--smoke", "--out", str(out)], tmp_path, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| case | seconds | held-out masked L1 | image-blind | random-init | ratio to image-blind |" in (
        completed.stdout)
    record = json.loads(out.read_text())
    assert record["config"] == "params/train/smoke.yaml" and record["target_ratio"] == 0.8
    assert {"device", "date", "git_commit", "load_average_at_start"} <= set(record["machine"])
    rows = record["cases"]
    assert [row["dataset"] for row in rows] == ["textured_digits", "photo_crops"]
    assert [row["method"] for row in rows] == ["simmim", "kamim"]
    for row in rows:
        assert row["epochs"] == 1 and row["seeds"] == [0] and row["optimizer_steps"] == 2  # 64 images, batch 32
        assert row["held_out_images"] == {"textured_digits": 355, "photo_crops": 360}[row["dataset"]]
        assert row["seconds"] > 0 and row["masked_l1_per_seed"] == [row["masked_l1"]]
        for key in ("masked_l1", "image_blind", "random_init"):
            assert 0 < row[key] < 5, (key, row)
        assert math.isclose(row["ratio_to_image_blind"], row["masked_l1"] / row["image_blind"])
        assert row["meets_target"] == (row["ratio_to_image_blind"] <= 0.8)
        # Two optimiser steps barely move an untrained model: its error stays near the random-init one.
        assert abs(row["masked_l1"] - row["random_init"]) < 0.05 * row["random_init"]


@pytest.mark.parametrize("arguments, message", [(["--case", "photo_crops"], "DATASET METHOD"),
                                                (["--case", "photo_crops kamim epoch=6"], "epoch"),
                                                (["--case", "nosuchset kamim"], "nosuchset")])
def test_bad_cases_are_one_clear_error(arguments, message, tmp_path):
    completed = _run(arguments, tmp_path, timeout=120)
    assert completed.returncode == 2 and message in completed.stderr and "Traceback" not in completed.stderr
