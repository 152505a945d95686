"""Preemption: SIGTERM / SIGUSR1 save a checkpoint at the next optimiser step and exit 75; the resumed run ends
bit-identical to an uninterrupted one, in one process and in two torchrun processes (gloo) where only one rank is
signalled."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kamim_lib.checkpoint import load_checkpoint
from kamim_lib.config import run_dir
from kamim_lib.engine import fit
from kamim_lib.engine.preemption import EXIT_PREEMPTED

from engine_fixtures import state_dicts_equal, tiny_config

WORKER = Path(__file__).resolve().parent / "engine_worker.py"
RESUMABLE = {"deterministic": True}  # 2 epochs x 8 optimiser steps (TINY)


def run_worker(job: dict, expected_code: int = 0, *, processes: int = 1) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable] if processes == 1 else [sys.executable, "-m", "torch.distributed.run",
                                                        "--standalone", "--nproc_per_node", str(processes)]
    result = subprocess.run([*launcher, str(WORKER), json.dumps(job)], capture_output=True, text=True, timeout=300,
                            env=environment)
    if processes == 1:
        assert result.returncode == expected_code, result.stderr[-3000:]
    else:  # torchrun itself reports a failed worker as 1 and prints each worker's exit code
        assert (result.returncode == 0) == (expected_code == 0), result.stderr[-3000:]
    assert "Traceback" not in result.stdout
    return result


def last_state(out_dir, **overrides) -> dict:
    return load_checkpoint(run_dir(tiny_config(out_dir, **RESUMABLE, **overrides)) / "checkpoints" /
                           "checkpoint-last.pt")


def assert_same_training(resumed: dict, expected: dict) -> None:
    assert resumed["progress"] == expected["progress"]
    assert state_dicts_equal(resumed["model"], expected["model"])
    assert resumed["scheduler"] == expected["scheduler"]
    for index, state in expected["optimizer"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(resumed["optimizer"]["state"][index][key], state[key])


def metric_losses(out_dir, **overrides) -> list:
    path = run_dir(tiny_config(out_dir, **RESUMABLE, **overrides)) / "metrics.jsonl"
    return [json.loads(line)["train_loss"] for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_sigterm_and_sigusr1_checkpoint_exit_75_and_resume_bit_identically(tmp_path):
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    fit(tiny_config(reference, **RESUMABLE))
    job = {"out_dir": str(stopped), "overrides": RESUMABLE}
    printed = run_worker({**job, "signal_at_step": 5, "signal": "SIGTERM"}, EXIT_PREEMPTED).stdout
    assert json.loads(printed.splitlines()[-1]) == {"interrupted": "SIGTERM", "optimizer_steps": 5}
    assert last_state(stopped)["progress"]["optimizer_steps"] == 5  # saved at the step the signal arrived
    run_worker({**job, "signal_at_step": 12, "signal": "SIGUSR1"}, EXIT_PREEMPTED)  # mid-epoch 2 this time
    assert last_state(stopped)["progress"]["optimizer_steps"] == 12
    run_worker(job)
    assert_same_training(last_state(stopped), last_state(reference))
    assert last_state(reference)["progress"]["optimizer_steps"] == 16
    assert metric_losses(stopped) == metric_losses(reference)


@pytest.mark.slow
def test_two_processes_stop_together_when_one_is_signalled_and_resume_bit_identically(tmp_path):
    common = {**RESUMABLE, "batch_size": 8}
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    run_worker({"out_dir": str(reference), "overrides": common}, processes=2)
    # Only rank 1 receives SIGTERM after step 5; the flag is summed over ranks, so both save step 5 and stop.
    result = run_worker({"out_dir": str(stopped), "overrides": common, "signal_at_step": 5, "signal_rank": 1},
                        EXIT_PREEMPTED, processes=2)
    assert result.stderr.count(f"exitcode  : {EXIT_PREEMPTED}") >= 1, result.stderr[-3000:]
    interrupted = last_state(stopped, batch_size=8)
    assert interrupted["progress"]["optimizer_steps"] == 5 and interrupted["derived"]["world_size"] == 2
    assert len(interrupted["ranks"]) == 2
    run_worker({"out_dir": str(stopped), "overrides": common}, processes=2)
    assert_same_training(last_state(stopped, batch_size=8), last_state(reference, batch_size=8))
    assert metric_losses(stopped, batch_size=8) == metric_losses(reference, batch_size=8)
