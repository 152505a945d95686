"""Preemption: SIGTERM / SIGUSR1 save a checkpoint at the next optimiser step and exit 75; the resumed run ends
bit-identical to an uninterrupted one, in one process and in two torchrun processes (gloo) where only one rank is
signalled."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kamim_lib.checkpoint import load_checkpoint
from kamim_lib.config import run_dir
from kamim_lib.engine import fit
from kamim_lib.engine.preemption import EXIT_PREEMPTED

from engine_fixtures import state_dicts_equal, tiny_config

WORKER = Path(__file__).resolve().parents[1] / "engine_worker.py"
# 2 epochs x 8 optimiser steps (TINY); the finished checkpoint keeps the optimiser state the tests compare.
RESUMABLE = {"deterministic": True, "keep_training_state": True}


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


def test_the_documented_slurm_recipe_is_valid_bash_and_requeues_on_the_preemption_code(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text()
    section = readme.split("## Clusters (SLURM)", 1)[1]
    script = section.split("```bash\n", 1)[1].split("```", 1)[0]
    assert "#SBATCH --signal=B:USR1@" in script and "--rdzv_backend c10d" in script
    assert f'[ "$status" -eq {EXIT_PREEMPTED} ]' in script and 'scontrol requeue "$SLURM_JOB_ID"' in script
    path = tmp_path / "job.sbatch"
    path.write_text(script)
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _recipe_job(tmp_path, srun_body: str) -> subprocess.Popen:
    """Start the documented SLURM script (docs/training.md) with stand-ins for srun (``srun_body``) and scontrol (records its arguments)."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text()
    script = readme.split("## Clusters (SLURM)", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    (tmp_path / "job.sbatch").write_text(script)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(f"#!/bin/bash\necho \"$@\" > {tmp_path}/srun.args\n{srun_body}\n")
    (bin_dir / "scontrol").write_text(f"#!/bin/bash\nif [ \"$1\" = show ]; then echo node-a; echo node-b; "
                                      f"else echo \"$@\" > {tmp_path}/scontrol.args; fi\n")
    for tool in ("srun", "scontrol"):
        (bin_dir / tool).chmod(0o755)
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "4242",
                   "SLURM_NNODES": "2", "SLURM_JOB_NODELIST": "node-[a-b]"}
    return subprocess.Popen(["bash", str(tmp_path / "job.sbatch")], env=environment, cwd=tmp_path)


def test_the_slurm_recipe_forwards_the_warning_and_requeues(tmp_path):
    # srun stand-in: a job that stops with the preemption code when SIGTERM reaches it
    job = _recipe_job(tmp_path, f"trap 'echo TERM > {tmp_path}/srun.signal; exit {EXIT_PREEMPTED}' TERM\n"
                                "sleep 60 & wait")
    deadline = time.monotonic() + 20
    while not (tmp_path / "srun.args").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    job.send_signal(signal.SIGUSR1)  # what --signal=B:USR1@300 sends (the trap is set before srun starts)
    assert job.wait(timeout=30) == EXIT_PREEMPTED
    assert (tmp_path / "srun.signal").read_text().strip() == "TERM"
    assert (tmp_path / "scontrol.args").read_text().split() == ["requeue", "4242"]
    assert "--rdzv_endpoint node-a:29500 --rdzv_id 4242" in (tmp_path / "srun.args").read_text()


def test_the_slurm_recipe_does_not_requeue_a_run_that_ended(tmp_path):
    assert _recipe_job(tmp_path, "exit 0").wait(timeout=30) == 0
    assert not (tmp_path / "scontrol.args").exists()
