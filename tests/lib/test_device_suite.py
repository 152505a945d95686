"""benchmarks/device_suite.py --smoke: every section of the GPU suite runs on the CPU (tiny sizes) and fills its
part of device_suite.json, so the GPU run is never the first time a line executes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "device_suite.py"


@pytest.mark.slow
def test_smoke_suite_fills_every_section(tmp_path):
    # A clean PYTHONPATH: the suite must find kamim_lib from the checkout by itself (no install step on the GPU box).
    result = subprocess.run([sys.executable, str(SUITE), "--smoke", "--out", str(tmp_path)], capture_output=True,
                            text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads((tmp_path / "device_suite.json").read_text())
    sections = report["sections"]
    assert {name: section["status"] for name, section in sections.items()} == {
        "correctness": "ok", "keypoints": "ok", "train_step": "ok", "pipeline": "ok", "paper_run": "ok"}, sections
    assert report["passed"] is True

    checks = sections["correctness"]["checks"]
    assert set(checks) == {"fast_equals_opencv", "weights_equal_cpu", "bf16_step_finite",
                           "resume_equals_uninterrupted", "device_crop_within_one_grey_level",
                           "device_decode_444_identical"}
    assert all(check["passed"] for check in checks.values())
    # On the CPU "device" and CPU are one decoder and one kernel: every difference is 0.
    assert checks["device_crop_within_one_grey_level"]["max_grey_difference"] == 0
    assert checks["device_crop_within_one_grey_level"]["images"] > 0
    decode_420 = sections["correctness"]["measured"]["device_decode_420"]
    assert decode_420["max_grey_difference"] == 0 and decode_420["share_over_1"] == 0.0
    assert "passed" not in decode_420 and "chroma" in decode_420["explanation"]
    assert set(checks["fast_equals_opencv"]["cases"]) == {"faithful_nms", "faithful_no_nms", "points_nms",
                                                          "points_no_nms"}
    assert checks["resume_equals_uninterrupted"]["max_abs_weight_difference"] == 0.0

    keypoints = sections["keypoints"]
    assert keypoints["eager"]["images_per_s"] > 0 and keypoints["compiled"]["images_per_s"] > 0
    assert keypoints["compiled_equals_eager_max_abs_difference"] < 1e-4

    steps = sections["train_step"]
    for kind in ("eager", "compiled"):
        figures = steps[kind]
        for mode in ("simmim", "kamim-device", "kamim-workers"):
            assert figures[mode]["images_per_s"] > 0 and figures[mode]["peak_memory_gib"] > 0
            assert "mfu" in figures[mode] and figures[mode]["achieved_tflops"] > 0
        assert figures["ratio_kamim-device_over_simmim"] > 0 and figures["flops_per_image_analytic"] > 0

    variants = sections["pipeline"]["variants"]
    assert set(variants) == {"cpu_decode_keypoints_on_device", "cpu_decode_keypoints_in_workers", "device_decode"}
    for values in variants.values():
        assert values["images_per_s"] > 0 and 0 < values["device_busy_fraction"] <= 1.0
        assert values["bottleneck"] in ("loader (CPU)", "device (step)")
    assert variants["device_decode"]["decode_on_device"] and not variants["cpu_decode_keypoints_in_workers"][
        "weights_on_device"]

    paper = sections["paper_run"]
    assert {command: run["exit_code"] for command, run in paper["runs"].items()} == {
        "pretrain": 0, "linprobe": 0, "finetune": 0}
    assert paper["pretrain_loss_finite"] and "pretrain_loss_falling" in paper
    assert "val_top1" in paper["runs"]["finetune"] and "knn_top1" in paper["runs"]["linprobe"]
    assert "suite" in result.stdout or "device_suite.json" in result.stdout
