"""XLA multi-process training (``device=xla``, ``xla_mode=multiprocess``: ``fit`` starts the replicas with
``torch_xla.launch``), run with ONE replica.

Why one: multi-process XLA collectives hang on PJRT CPU with several devices (DESIGN.md, platform facts), so
several replicas can only be run on a real TPU. With one replica every code path of the runtime and the launcher
runs (launch, per-replica runtime, MpDeviceLoader, gradient reduction, mesh_reduce, rendezvous, rank-0 save), but
no collective has a second participant. Each XLA run is a fresh process: SPMD mode (the other XLA tests) is
process-global, and ``torch_xla.launch`` refuses to start once the XLA runtime is initialised.

Scenario: a run is stopped in the middle of epoch 2 (after optimiser step 6, last checkpoint at step 5), then
``kamim pretrain`` resumes it; the result must match one uninterrupted CPU run. A linear probe of that encoder then
exercises the evaluation collectives (summed top-k counts, gathered kNN features).
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

torch_xla = pytest.importorskip("torch_xla")
pytestmark = [pytest.mark.xla, pytest.mark.slow]

from kamim_lib.checkpoint import load_checkpoint  # noqa: E402
from kamim_lib.config import run_dir  # noqa: E402
from kamim_lib.engine import fit  # noqa: E402

from engine_fixtures import TINY, state_dicts_equal, tiny_config  # noqa: E402

WORKER = Path(__file__).resolve().parents[1] / "xla_multiprocess_worker.py"
# 64 images / batch 16 = 4 optimiser steps per epoch, 2 epochs; checkpoints at epoch ends and after step 5.
SHORT = {"method": "kamim", "epochs": 2, "max_train_samples": 64, "precision": "fp32", "checkpoint_every_steps": 5}
ON_XLA = {"device": "xla", "xla_mode": "multiprocess"}
STOP_AT_STEP = 6


def one_replica_environment() -> dict:
    """PJRT on the CPU with one device, and no SPMD flag inherited from this (possibly SPMD) test process."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("XLA_USE_SPMD", "XLA_AUTO_SPMD", "PJRT_LOCAL_PROCESS"))}
    return {**environment, "PJRT_DEVICE": "CPU", "CPU_NUM_DEVICES": "1", "PYTHONHASHSEED": "0"}


def run_process(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=300,
                          env=one_replica_environment())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The CPU reference, the stopped XLA run (worker) and its resumption (CLI), with what each left behind."""
    root = tmp_path_factory.mktemp("xla_multiprocess")
    xla_out, steps_log = root / "xla", root / "steps.log"
    with ThreadPoolExecutor(1) as background:  # the XLA worker runs while this process trains the CPU reference
        stopping = background.submit(run_process, [str(WORKER), json.dumps(
            {"out_dir": str(xla_out), "overrides": {**SHORT, **ON_XLA}, "steps_log": str(steps_log),
             "stop_at_step": STOP_AT_STEP})])
        reference = fit(tiny_config(root / "cpu", **SHORT))
        stopped = stopping.result()
    folder = run_dir(tiny_config(xla_out, **SHORT, **ON_XLA))
    after_stop = {"steps": steps_log.read_text().split(),
                  "progress": load_checkpoint(folder / "checkpoints" / "checkpoint-last.pt")["progress"],
                  "metrics": (folder / "metrics.jsonl").read_text()}

    config_file = root / "tiny.yaml"
    config_file.write_text(yaml.safe_dump({**TINY, "out_dir": str(xla_out)}))
    overrides = [f"{key}={value}" for key, value in {**SHORT, **ON_XLA}.items()]
    resumed = run_process(["-m", "kamim_paper.cli", "pretrain", "--config", str(config_file), "--set", *overrides])
    return {"reference": reference, "stopped": stopped, "after_stop": after_stop, "resumed": resumed,
            "folder": folder}


def test_a_stopped_multiprocess_run_keeps_its_last_checkpoint(runs):
    stopped, after_stop = runs["stopped"], runs["after_stop"]
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    assert f"stopped by the test after optimiser step {STOP_AT_STEP}" in stopped.stderr
    assert after_stop["steps"] == [str(step) for step in range(1, STOP_AT_STEP + 1)]
    # Step 6's checkpoint was never written: the run resumes from step 5, one micro-batch into epoch 2.
    assert after_stop["progress"] == {"epoch": 1, "batches_done": 1, "optimizer_steps": 5,
                                      "loss_sum": after_stop["progress"]["loss_sum"], "finished": False}
    assert [json.loads(line)["epoch"] for line in after_stop["metrics"].splitlines()] == [1]


def test_the_cli_resumes_it_and_matches_one_cpu_process(runs):
    resumed, folder, reference = runs["resumed"], runs["folder"], runs["reference"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"run: {folder}" in resumed.stdout and "train loss:" in resumed.stdout

    env = json.loads((folder / "env.json").read_text())
    assert env["runtime"] == "xla-multiprocess" and env["xla_mode"] == "multiprocess" and env["world_size"] == 1
    metrics = (folder / "metrics.jsonl").read_text()
    # Epoch 1's line is the stopped run's, untouched: the resumed run did not train epoch 1 again.
    assert metrics.startswith(runs["after_stop"]["metrics"])
    losses = [json.loads(line)["train_loss"] for line in metrics.splitlines()]
    reference_metrics = (Path(reference["run_dir"]) / "metrics.jsonl").read_text().splitlines()
    assert losses == pytest.approx([json.loads(line)["train_loss"] for line in reference_metrics], rel=1e-4)

    # Rank 0 wrote one checkpoint file (no per-rank copies, no leftovers) holding one rank's RNG state.
    assert sorted(path.name for path in (folder / "checkpoints").iterdir()) == ["checkpoint-last.pt"]
    state = load_checkpoint(folder / "checkpoints" / "checkpoint-last.pt")
    expected = load_checkpoint(reference["checkpoint"])
    assert state["progress"] == {**expected["progress"], "loss_sum": state["progress"]["loss_sum"]}
    assert state["progress"]["optimizer_steps"] == 8 and len(state["ranks"]) == 1
    assert all(value.device.type == "cpu" for value in state["model"].values())
    assert state_dicts_equal(state["model"], expected["model"], atol=2e-5)  # measured: 5e-6
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["derived"]["world_size"] == 1


def test_linear_probe_with_one_replica_matches_one_cpu_process(runs, tmp_path):
    encoder = str(runs["folder"] / "checkpoints" / "checkpoint-last.pt")
    probe = {"pretrained": encoder, "epochs": 1, "max_train_samples": 64, "max_eval_samples": 40, "knn_k": 5,
             "precision": "fp32"}
    with ThreadPoolExecutor(1) as background:  # the XLA worker runs while this process probes on the CPU
        probing = background.submit(run_process, [str(WORKER), json.dumps(
            {"out_dir": str(tmp_path / "xla"), "section": "linprobe", "overrides": {**probe, **ON_XLA},
             "steps_log": str(tmp_path / "steps.log")})])
        on_cpu = fit(tiny_config(tmp_path / "cpu", "linprobe", **probe))
        probed = probing.result()
    assert probed.returncode == 0, probed.stderr[-3000:]
    summary = json.loads((run_dir(tiny_config(tmp_path / "xla", "linprobe", **probe)) / "summary.json").read_text())
    assert summary["val_count"] == on_cpu["val_count"] == 40  # 2 batches of 16 + a ragged one of 8
    assert summary["train_loss_last_epoch"] == pytest.approx(on_cpu["train_loss_last_epoch"], rel=1e-4)
    for key in ("val_top1", "val_top5", "knn_top1", "knn_top5"):
        assert summary[key] == pytest.approx(on_cpu[key], abs=100 / 40), key  # at most one image apart
