"""Runs one tiny XLA multi-process training (``fit`` -> ``torch_xla.launch``) in a fresh process, for
test_engine_xla_multiprocess.py.

Usage: python xla_multiprocess_worker.py '<json: {"out_dir", "section", "overrides", "steps_log", "stop_at_step"}>'

Every replica appends each optimiser step number to ``steps_log``; at ``stop_at_step`` it raises, which stops the
run like a crash (the last checkpoint is kept) and makes this script exit with status 1. The callback crosses into
the replicas by pickling, so it is a module-level function (``__main__`` is re-imported in the spawned process).
"""
import functools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_fixtures import tiny_config  # noqa: E402
from kamim_lib.engine import fit  # noqa: E402


def record_step(steps_log: str, stop_at_step: int | None, info: dict) -> None:
    """Log the step; raise (simulated crash, before that step's checkpoint) at ``stop_at_step``."""
    with open(steps_log, "a") as stream:
        stream.write(f"{info['optimizer_steps']}\n")
    if info["optimizer_steps"] == stop_at_step:
        raise RuntimeError(f"stopped by the test after optimiser step {stop_at_step}")


def main() -> None:
    job = json.loads(sys.argv[1])
    config = tiny_config(job["out_dir"], job.get("section", "pretrain"), **job["overrides"])
    summary = fit(config, on_step=functools.partial(record_step, job["steps_log"], job.get("stop_at_step")))
    print(json.dumps({"run_dir": summary["run_dir"], "status": summary["status"]}))


if __name__ == "__main__":
    main()
