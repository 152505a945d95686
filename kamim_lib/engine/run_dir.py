"""The run directory ``out_dir/<section>/<run_id>/``::

    config.json       the resolved configuration (plain JSON) + run id + derived values (accumulation, steps)
    env.json          where it ran: runtime, devices, library versions, git commit
    metrics.jsonl     one JSON object per finished epoch
    summary.json      final numbers and status ("finished" or "failed" with the reason)
    checkpoints/      checkpoint-last.pt (unless checkpoint_dir points elsewhere)

Only the main process writes. JSON files are replaced atomically, so a reader never sees half a file.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

from ..checkpoint import LAST_CHECKPOINT, new_file_mode
from ..config import TrainConfig, config_to_dict, run_dir, run_id

CONFIG_FILE = "config.json"
ENV_FILE = "env.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


def _json_safe(value):
    """NaN/inf are not JSON: write them as strings so the files stay parseable by any reader."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def write_json_atomic(path: Path, data) -> None:
    """Write ``data`` as indented JSON via a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(temporary, new_file_mode())
    with os.fdopen(handle, "w") as stream:
        json.dump(_json_safe(data), stream, indent=2, sort_keys=False)
        stream.write("\n")
    os.replace(temporary, path)


class RunDirectory:
    """Paths and files of one run (see the module docstring).

    Args:
        config: the resolved configuration; its run id names the folder.
    """

    def __init__(self, config: TrainConfig):
        self.config = config
        self.run_id = run_id(config)
        self.path = run_dir(config)
        self.checkpoint_dir = Path(config.checkpoint_dir) / config.section / self.run_id \
            if config.checkpoint_dir else self.path / "checkpoints"

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint_dir / LAST_CHECKPOINT

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    def write_config(self, derived: dict) -> None:
        write_json_atomic(self.path / CONFIG_FILE, {"run_id": self.run_id, "config": config_to_dict(self.config),
                                                     "derived": derived})

    def write_env(self, env: dict) -> None:
        write_json_atomic(self.path / ENV_FILE, env)

    def append_metrics(self, record: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a") as stream:
            stream.write(json.dumps(_json_safe(record)) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def read_metrics(self) -> list[dict]:
        if not self.metrics_path.is_file():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

    def keep_metrics_through(self, completed_epochs: int) -> None:
        """Drop lines of epochs after ``completed_epochs`` (written before a crash that the checkpoint predates)."""
        kept = [record for record in self.read_metrics() if record.get("epoch", 0) <= completed_epochs]
        if self.metrics_path.is_file():
            text = "".join(json.dumps(record) + "\n" for record in kept)
            handle, temporary = tempfile.mkstemp(prefix=".metrics.", suffix=".tmp", dir=self.path)
            os.chmod(temporary, new_file_mode())
            with os.fdopen(handle, "w") as stream:
                stream.write(text)
            os.replace(temporary, self.metrics_path)

    def write_summary(self, summary: dict) -> None:
        write_json_atomic(self.summary_path, summary)

    def read_summary(self) -> dict | None:
        if not self.summary_path.is_file():
            return None
        return json.loads(self.summary_path.read_text())
