"""Crash safety: a run killed with SIGKILL resumes to exactly the weights of an uninterrupted run; a non-finite
loss stops training and keeps the last good checkpoint."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kamim_lib.checkpoint import load_checkpoint
from kamim_lib.config import run_dir
from kamim_lib.engine import NonFiniteLossError, PretrainTask, fit
from kamim_lib.runtime import Runtime

from engine_fixtures import state_dicts_equal, tiny_config

WORKER = Path(__file__).resolve().parents[1] / "engine_worker.py"
# 2 epochs x 8 optimiser steps; checkpoints every 3 steps and at epoch ends; deterministic kernels; the finished
# checkpoint keeps the optimiser state the test compares.
RESUMABLE = {"checkpoint_every_steps": 3, "deterministic": True, "keep_training_state": True}


def run_worker(job: dict, *, expect_kill: bool = False) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run([sys.executable, str(WORKER), json.dumps(job)], capture_output=True, text=True,
                            timeout=300, env=environment)
    if expect_kill:
        assert result.returncode == -signal.SIGKILL, result.stderr
    else:
        assert result.returncode == 0, result.stderr
    return result


def final_state(out_dir) -> dict:
    return load_checkpoint(run_dir(tiny_config(out_dir, **RESUMABLE)) / "checkpoints" / "checkpoint-last.pt")


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_weights(tmp_path):
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    fit(tiny_config(reference, **RESUMABLE, num_workers=0))  # in this process, loading in the main process
    # Killed after step 5 (mid-epoch 1; last checkpoint at step 3), and again after step 13 (mid-epoch 2).
    crashed_job = {"out_dir": str(crashed), "overrides": {**RESUMABLE, "num_workers": 1}}
    run_worker({**crashed_job, "kill_at_step": 5}, expect_kill=True)
    assert load_checkpoint(run_dir(tiny_config(crashed, **RESUMABLE)) / "checkpoints" / "checkpoint-last.pt")[
        "progress"]["optimizer_steps"] == 3
    run_worker({**crashed_job, "kill_at_step": 13}, expect_kill=True)
    run_worker(crashed_job)

    expected, resumed = final_state(reference), final_state(crashed)
    assert resumed["progress"] == expected["progress"] and expected["progress"]["optimizer_steps"] == 16
    assert state_dicts_equal(resumed["model"], expected["model"])
    assert resumed["scheduler"] == expected["scheduler"]
    for key in ("exp_avg", "exp_avg_sq"):
        assert all(torch.equal(resumed["optimizer"]["state"][i][key], expected["optimizer"]["state"][i][key])
                   for i in expected["optimizer"]["state"])
    metric_lines = [json.loads(line) for line in
                    (run_dir(tiny_config(crashed, **RESUMABLE)) / "metrics.jsonl").read_text().splitlines()]
    reference_lines = [json.loads(line) for line in
                       (run_dir(tiny_config(reference, **RESUMABLE)) / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in metric_lines] == [1, 2]
    assert [line["train_loss"] for line in metric_lines] == [line["train_loss"] for line in reference_lines]


def poison_train_loss(monkeypatch, *, at_call: int):
    """Make the ``at_call``-th training loss NaN (one micro-batch per step here: optimiser step ``at_call``);
    returns the original ``PretrainTask.train_loss``."""
    original, calls = PretrainTask.train_loss, {"n": 0}

    def poisoned(self, model, batch, step_seed):
        calls["n"] += 1
        loss = original(self, model, batch, step_seed)
        return loss * float("nan") if calls["n"] == at_call else loss

    monkeypatch.setattr(PretrainTask, "train_loss", poisoned)
    return original


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    config = tiny_config(tmp_path, method="simmim", checkpoint_every_steps=2)
    original = poison_train_loss(monkeypatch, at_call=6)
    with pytest.raises(NonFiniteLossError, match="non-finite loss .* optimiser step 6"):
        fit(config)
    folder = run_dir(config)
    state = load_checkpoint(folder / "checkpoints" / "checkpoint-last.pt")
    assert state["progress"]["optimizer_steps"] == 4
    assert all(torch.isfinite(value).all() for value in state["model"].values())
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed" and "optimiser step 6" in summary["reason"]

    monkeypatch.setattr(PretrainTask, "train_loss", original)
    assert fit(config)["status"] == "finished"  # the good checkpoint resumes normally


class LazySyncRuntime(Runtime):
    """The CPU runtime read back as rarely as XLA: non-finite steps are only counted until a checkpoint or a log."""

    cheap_sync = False


def test_without_a_cheap_sync_a_mid_epoch_checkpoint_is_refused_after_a_non_finite_step(tmp_path, monkeypatch):
    # Step 5 is NaN; nothing reads it back until the checkpoint of step 6 (logs only every 100 steps), which must
    # fail instead of saving NaN weights: the last checkpoint stays step 4's.
    config = tiny_config(tmp_path, method="simmim", checkpoint_every_steps=2, log_every_steps=100)
    poison_train_loss(monkeypatch, at_call=5)
    with pytest.raises(NonFiniteLossError, match="non-finite loss or gradient norm before optimiser step 6"):
        fit(config, runtime=LazySyncRuntime("cpu"))
    state = load_checkpoint(run_dir(config) / "checkpoints" / "checkpoint-last.pt")
    assert state["progress"]["optimizer_steps"] == 4
    assert all(torch.isfinite(value).all() for value in state["model"].values())


def test_a_finished_checkpoint_keeps_only_what_a_finished_run_needs(tmp_path):
    """The last checkpoint of a finished run drops the optimiser, schedule and scaler (a finished run never trains
    again); losing summary.json then only re-runs the final evaluation, from the slim checkpoint."""
    config = tiny_config(tmp_path, num_workers=0)
    summary = fit(config)
    path = run_dir(config) / "checkpoints" / "checkpoint-last.pt"
    state = load_checkpoint(path)
    assert state["progress"]["finished"] and state["optimizer"] is None and state["scheduler"] is None
    kept = tiny_config(tmp_path / "kept", num_workers=0, keep_training_state=True)
    fit(kept)
    kept_path = run_dir(kept) / "checkpoints" / "checkpoint-last.pt"
    assert load_checkpoint(kept_path)["optimizer"]["state"]
    assert path.stat().st_size < kept_path.stat().st_size
    assert state_dicts_equal(state["model"], load_checkpoint(kept_path)["model"])

    metrics = (run_dir(config) / "metrics.jsonl").read_text()
    (run_dir(config) / "summary.json").unlink()
    again = fit(config)
    assert (run_dir(config) / "metrics.jsonl").read_text() == metrics      # no epoch trained again
    assert again["status"] == "finished"
    assert {key: again[key] for key in ("optimizer_steps", "train_loss_first_epoch", "train_loss_last_epoch")} == \
        {key: summary[key] for key in ("optimizer_steps", "train_loss_first_epoch", "train_loss_last_epoch")}


def test_a_checkpoint_without_optimiser_state_of_an_unfinished_run_is_refused_with_advice(tmp_path):
    config = tiny_config(tmp_path, num_workers=0, epochs=2)
    fit(config)
    path = run_dir(config) / "checkpoints" / "checkpoint-last.pt"
    state = load_checkpoint(path)
    state["progress"] = {**state["progress"], "epoch": 1, "finished": False}
    torch.save(state, path)
    (run_dir(config) / "summary.json").unlink()
    with pytest.raises(Exception, match="holds no optimiser state but its run is not finished.*run_name"):
        fit(config)
