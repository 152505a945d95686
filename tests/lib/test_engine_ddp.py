"""DDP under torchrun (2 CPU processes, gloo): identical weights on both ranks, equal to one process trained on
the combined batch."""
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

from engine_fixtures import state_dicts_equal, tiny_config

WORKER = Path(__file__).resolve().parents[1] / "engine_worker.py"
PER_RANK_BATCH = 8
COMMON = {"epochs": 1, "warmup_epochs": 0.25, "num_threads": 1}


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_on_the_combined_batch(tmp_path):
    job = {"out_dir": str(tmp_path / "ddp"), "overrides": {**COMMON, "batch_size": PER_RANK_BATCH},
           "dump_weights": str(tmp_path / "weights")}
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             str(WORKER), json.dumps(job)], capture_output=True, text=True, timeout=300,
                            env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / "weights.rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "weights.rank1.pt", weights_only=True)
    assert state_dicts_equal(rank0, rank1)  # DDP keeps the replicas bit-identical

    ddp_config = tiny_config(tmp_path / "ddp", **COMMON, batch_size=PER_RANK_BATCH)
    ddp_state = load_checkpoint(run_dir(ddp_config) / "checkpoints" / "checkpoint-last.pt")
    assert ddp_state["derived"]["world_size"] == 2 and ddp_state["derived"]["global_batch"] == 2 * PER_RANK_BATCH
    assert state_dicts_equal(ddp_state["model"], rank0)  # rank 0 saved what it trained

    single = fit(tiny_config(tmp_path / "single", **COMMON, batch_size=2 * PER_RANK_BATCH))
    single_state = load_checkpoint(Path(single["checkpoint"]))
    assert single_state["progress"]["optimizer_steps"] == ddp_state["progress"]["optimizer_steps"] == 8
    assert state_dicts_equal(single_state["model"], rank0, atol=2e-5)
    ddp_metrics = json.loads((run_dir(ddp_config) / "metrics.jsonl").read_text().splitlines()[0])
    single_metrics = json.loads((Path(single["run_dir"]) / "metrics.jsonl").read_text().splitlines()[0])
    assert ddp_metrics["train_loss"] == pytest.approx(single_metrics["train_loss"], rel=1e-5)
