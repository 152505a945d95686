"""The training loop on XLA (run by `python3 tasks.py test-xla`: PJRT_DEVICE=CPU with 4 virtual devices, SPMD).

The XLA runs happen in the session's shared SPMD worker process (``spmd_fits``, tests/xla_spmd_fits.py): the SPMD
runtime calls `use_spmd()`, which is process-global and crashes a process that already holds XLA tensors (as this
pytest process does). Each test runs its CPU reference here while the worker trains, then compares.
"""
import pytest

torch_xla = pytest.importorskip("torch_xla")
pytestmark = [pytest.mark.xla, pytest.mark.slow]

import torch_xla.runtime as xla_runtime  # noqa: E402

from kamim_lib.checkpoint import load_checkpoint  # noqa: E402
from kamim_lib.engine import fit  # noqa: E402

from engine_fixtures import state_dicts_equal, tiny_config  # noqa: E402
from xla_spmd_fits import SCENARIOS, cpu_overrides  # noqa: E402

DEVICES = xla_runtime.global_runtime_device_count()  # CPU_NUM_DEVICES: the SPMD mesh of the worker


def cpu_reference(tmp_path, name: str) -> dict:
    """Scenario ``name`` in this (CPU) process on the global batch of the XLA run."""
    section = SCENARIOS[name][0]
    return fit(tiny_config(tmp_path / "cpu", section, **cpu_overrides(name, DEVICES)))


@pytest.mark.spmd_scenario("kamim_device_keypoints")
def test_spmd_pretraining_matches_one_cpu_process_on_the_global_batch(spmd_fits, tmp_path):
    on_cpu = cpu_reference(tmp_path, "kamim_device_keypoints")
    on_xla = spmd_fits.summary("kamim_device_keypoints")
    assert on_xla["derived"]["num_replicas"] == DEVICES
    assert on_xla["status"] == "finished" and on_xla["derived"]["global_batch"] == 16 * DEVICES
    assert on_xla["optimizer_steps"] == on_cpu["optimizer_steps"] > 0
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-4)
    xla_weights = load_checkpoint(on_xla["checkpoint"])["model"]
    cpu_weights = load_checkpoint(on_cpu["checkpoint"])["model"]
    assert all(value.device.type == "cpu" for value in xla_weights.values())
    assert state_dicts_equal(xla_weights, cpu_weights, atol=1e-5)


@pytest.mark.spmd_scenario("simmim_partial_last_batch")
def test_spmd_keeps_the_last_partial_batch_like_one_cpu_process(spmd_fits, tmp_path):
    # 120 images, global batch 64: one full batch, then the last 56 (a multiple of the 4 devices, 14 each)
    on_cpu = cpu_reference(tmp_path, "simmim_partial_last_batch")
    on_xla = spmd_fits.summary("simmim_partial_last_batch")
    assert on_xla["derived"]["num_replicas"] == DEVICES
    assert on_xla["derived"]["steps_per_epoch"] == on_cpu["derived"]["steps_per_epoch"] == -(-120 // (16 * DEVICES))
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-4)
    assert state_dicts_equal(load_checkpoint(on_xla["checkpoint"])["model"],
                             load_checkpoint(on_cpu["checkpoint"])["model"], atol=1e-5)


@pytest.mark.spmd_scenario("linprobe_ragged_eval")
def test_linear_probe_on_xla_evaluates_a_ragged_last_batch(spmd_fits):
    summary = spmd_fits.summary("linprobe_ragged_eval")
    assert summary["val_count"] == 70  # 64 + a last batch of 6 sharded over the devices
    assert 0 <= summary["val_top1"] <= summary["val_top5"] <= 100 and 0 <= summary["knn_top1"] <= 100


@pytest.mark.parametrize("masking", [pytest.param(masking, marks=pytest.mark.spmd_scenario(f"kamim_{masking}_masks"))
                                     for masking in ("attmask", "density")])
def test_device_masking_strategies_train_under_spmd_with_static_shapes(spmd_fits, tmp_path, masking):
    """AttMask (EMA teacher forward + top-k) and density-guided masks (torch FAST) inside the XLA step."""
    on_cpu = cpu_reference(tmp_path, f"kamim_{masking}_masks")
    on_xla = spmd_fits.summary(f"kamim_{masking}_masks")
    assert on_xla["derived"]["num_replicas"] == DEVICES
    assert on_xla["status"] == "finished" and on_xla["optimizer_steps"] == on_cpu["optimizer_steps"] > 0
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-3)
