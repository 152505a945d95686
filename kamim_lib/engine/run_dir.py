"""The run directory ``out_dir/<section>/<run_id>/``::

    config.json       the resolved configuration (plain JSON) + run id + derived values (accumulation, steps)
    env.json          where it ran: runtime, devices, library versions, git commit
    metrics.jsonl     one JSON object per finished epoch
    summary.json      final numbers and status ("finished" or "failed" with the reason)
    data.json         fingerprint of the training data (root, length, index hash; kamim_lib.data.fingerprint)
    checkpoints/      checkpoint-last.pt (unless checkpoint_dir points elsewhere)
    tensorboard/      event files when logger=tensorboard
    .lock             held by the process training in it (kamim_lib.engine.run_lock)

Only the main process writes. JSON files are replaced atomically, so a reader never sees half a file.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

from kamim_lib.checkpoint import LAST_CHECKPOINT, new_file_mode
from kamim_lib.config import TrainConfig, config_to_dict, run_dir, run_id

CONFIG_FILE = "config.json"
ENV_FILE = "env.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
DATA_FILE = "data.json"
# Temporary files of atomic writes are ".<name>.<random>.tmp"; one left behind means a write was killed.
TEMPORARY_PATTERN = ".*.tmp"


class OutputLocationError(ValueError):
    """An output folder (``out_dir``, ``checkpoint_dir``) cannot be created or written."""


def check_writable_folder(folder: str | os.PathLike, key: str) -> Path:
    """Create ``folder`` (and parents) and prove a file can be written in it; return it.

    Args:
        folder: the folder to write in.
        key: the configuration key that chose it, for the message.

    Raises:
        OutputLocationError: naming the key, the path and what to do (a file in the way, no permission, a
            read-only or full disk).
    """
    folder = Path(folder)
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise OutputLocationError(f"{key}: {str(parent)!r} is a file, but {str(folder)!r} needs it to be a "
                                          f"folder; move the file or choose another {key}")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputLocationError(f"{key}: cannot write in {str(folder)!r} ({error.strerror or error}); choose a "
                                  f"writable {key} or fix the folder's permissions") from None
    return folder


def remove_stale_temporaries(*folders: Path) -> list[Path]:
    """Delete temporary files of atomic writes left by a killed process; return them.

    Only call it while holding the run's lock: a live writer's temporary file would be removed too.
    """
    removed = []
    for folder in folders:
        if folder.is_dir():
            for path in folder.glob(TEMPORARY_PATTERN):
                if path.is_file():
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed


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
    try:
        os.chmod(temporary, new_file_mode())
        with os.fdopen(handle, "w") as stream:
            json.dump(_json_safe(data), stream, indent=2, sort_keys=False)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:  # e.g. a full disk: leave the previous file and no temporary behind
        Path(temporary).unlink(missing_ok=True)
        raise


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

    @property
    def data_path(self) -> Path:
        return self.path / DATA_FILE

    def check_writable(self) -> None:
        """Create the run and checkpoint folders and check that they can be written (see check_writable_folder)."""
        check_writable_folder(self.path, "out_dir")
        check_writable_folder(self.checkpoint_dir, "checkpoint_dir" if self.config.checkpoint_dir else "out_dir")

    def read_data_fingerprint(self) -> dict | None:
        if not self.data_path.is_file():
            return None
        return json.loads(self.data_path.read_text())

    def write_data_fingerprint(self, fingerprint: dict) -> None:
        write_json_atomic(self.data_path, fingerprint)

    def write_summary(self, summary: dict) -> None:
        write_json_atomic(self.summary_path, summary)

    def read_summary(self) -> dict | None:
        if not self.summary_path.is_file():
            return None
        return json.loads(self.summary_path.read_text())
