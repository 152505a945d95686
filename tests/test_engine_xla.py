"""The training loop on XLA (run by `python3 tasks.py test-xla`: PJRT_DEVICE=CPU with 4 virtual devices, SPMD).

Each XLA run is a fresh subprocess: the SPMD runtime calls `use_spmd()`, which is process-global and crashes a
process that already holds XLA tensors (as the other XLA test files' processes do).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch_xla = pytest.importorskip("torch_xla")
pytestmark = [pytest.mark.xla, pytest.mark.slow]

from kamim_lib.checkpoint import load_checkpoint  # noqa: E402
from kamim_lib.engine import fit  # noqa: E402

from engine_fixtures import state_dicts_equal, tiny_config  # noqa: E402

_RUN_FIT = """
import json, sys
from engine_fixtures import tiny_config
from kamim_lib.engine import fit
out_dir, section, overrides, result = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
summary = fit(tiny_config(out_dir, section, **overrides))
open(result, "w").write(json.dumps(summary, default=str))
"""


def fit_in_subprocess(out_dir: Path, section: str = "pretrain", **overrides) -> dict:
    """``fit(tiny_config(...))`` in a new process; returns its summary."""
    result = out_dir / "summary-from-subprocess.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                                                      os.environ.get("PYTHONPATH")]))}
    completed = subprocess.run([sys.executable, "-c", _RUN_FIT, str(out_dir), section, json.dumps(overrides),
                                str(result)], env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(result.read_text())


def test_spmd_pretraining_matches_one_cpu_process_on_the_global_batch(tmp_path):
    common = {"method": "kamim", "keypoints_on": "device", "epochs": 1, "precision": "fp32", "num_threads": None}
    on_xla = fit_in_subprocess(tmp_path / "xla", device="xla", batch_size=16, **common)
    replicas = on_xla["derived"]["num_replicas"]
    assert on_xla["status"] == "finished" and on_xla["derived"]["global_batch"] == 16 * replicas
    on_cpu = fit(tiny_config(tmp_path / "cpu", device="cpu", batch_size=16 * replicas, **common))
    assert on_xla["optimizer_steps"] == on_cpu["optimizer_steps"] > 0
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-4)
    xla_weights = load_checkpoint(on_xla["checkpoint"])["model"]
    cpu_weights = load_checkpoint(on_cpu["checkpoint"])["model"]
    assert all(value.device.type == "cpu" for value in xla_weights.values())
    assert state_dicts_equal(xla_weights, cpu_weights, atol=1e-5)


def test_spmd_keeps_the_last_partial_batch_like_one_cpu_process(tmp_path):
    # 120 images, global batch 64: one full batch, then the last 56 (a multiple of the 4 devices, 14 each)
    common = {"method": "simmim", "epochs": 1, "precision": "fp32", "num_threads": None, "max_train_samples": 120,
              "drop_last": False}
    on_xla = fit_in_subprocess(tmp_path / "xla", device="xla", batch_size=16, **common)
    replicas = on_xla["derived"]["num_replicas"]
    on_cpu = fit(tiny_config(tmp_path / "cpu", device="cpu", batch_size=16 * replicas, **common))
    assert on_xla["derived"]["steps_per_epoch"] == on_cpu["derived"]["steps_per_epoch"] == -(-120 // (16 * replicas))
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-4)
    assert state_dicts_equal(load_checkpoint(on_xla["checkpoint"])["model"],
                             load_checkpoint(on_cpu["checkpoint"])["model"], atol=1e-5)


def test_linear_probe_on_xla_evaluates_a_ragged_last_batch(tmp_path):
    summary = fit_in_subprocess(tmp_path, "linprobe", device="xla", pretrained="scratch", epochs=1, batch_size=8,
                                max_eval_samples=70, num_threads=None)
    assert summary["val_count"] == 70  # 64 + a last batch of 6 sharded over the devices
    assert 0 <= summary["val_top1"] <= summary["val_top5"] <= 100 and 0 <= summary["knn_top1"] <= 100


@pytest.mark.parametrize("masking", ["attmask", "density"])
def test_device_masking_strategies_train_under_spmd_with_static_shapes(tmp_path, masking):
    """AttMask (EMA teacher forward + top-k) and density-guided masks (torch FAST) inside the XLA step."""
    common = {"method": "kamim", "keypoints_on": "device", "masking": masking, "img_size": 64,
              "mask_patch_size": 16, "epochs": 1, "precision": "fp32", "num_threads": None}
    on_xla = fit_in_subprocess(tmp_path / "xla", device="xla", batch_size=16, **common)
    replicas = on_xla["derived"]["num_replicas"]
    on_cpu = fit(tiny_config(tmp_path / "cpu", device="cpu", batch_size=16 * replicas, **common))
    assert on_xla["status"] == "finished" and on_xla["optimizer_steps"] == on_cpu["optimizer_steps"] > 0
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-3)
