"""Runs one tiny training in a subprocess (for the resume and DDP tests).

Usage: python engine_worker.py '<json: {"out_dir", "section", "overrides", "kill_at_step", "signal_at_step",
"signal", "signal_rank", "dump_weights"}>'

``kill_at_step``: SIGKILL this process right after that optimiser step (a crash with no cleanup at all).
``signal_at_step``: send ``signal`` (default "SIGTERM") to this process right after that optimiser step, on rank
``signal_rank`` only (default: every rank); training checkpoints and the worker exits with the interruption's code.
``dump_weights``: a path; after training, every process saves its model weights to ``<path>.rank<r>.pt``.
"""
import json
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_fixtures import tiny_config  # noqa: E402
from kamim_lib.engine import fit  # noqa: E402
from kamim_lib.engine.preemption import TrainingInterrupted  # noqa: E402


def main() -> None:
    job = json.loads(sys.argv[1])
    config = tiny_config(job["out_dir"], job.get("section", "pretrain"), **job.get("overrides", {}))
    kill_at, dump = job.get("kill_at_step"), job.get("dump_weights")
    signal_at, signal_rank = job.get("signal_at_step"), job.get("signal_rank")
    rank = int(os.environ.get("RANK", 0))
    final = {}

    def on_step(info):
        if info["optimizer_steps"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if info["optimizer_steps"] == signal_at and signal_rank in (None, rank):
            os.kill(os.getpid(), getattr(signal, job.get("signal", "SIGTERM")))
        final["model"] = info["model"]

    try:
        summary = fit(config, on_step=on_step)
    except TrainingInterrupted as stop:
        print(json.dumps({"interrupted": stop.signal_name, "optimizer_steps": stop.optimizer_steps}))
        sys.exit(stop.exit_code)
    if dump:
        rank = int(os.environ.get("RANK", 0))
        torch.save({key: value.detach().cpu() for key, value in final["model"].state_dict().items()},
                   f"{dump}.rank{rank}.pt")
    if int(os.environ.get("RANK", 0)) == 0:
        print(json.dumps({"run_dir": summary["run_dir"], "train_loss_last_epoch": summary["train_loss_last_epoch"]}))


if __name__ == "__main__":
    main()
