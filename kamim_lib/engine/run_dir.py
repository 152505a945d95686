"""The run directory ``out_dir/<section>/<run_id>/``::

    config.json       the resolved configuration (plain JSON) + run id + derived values (accumulation, steps)
    env.json          where it ran: runtime, devices, library versions, git commit
    metrics.jsonl     one JSON object per finished epoch
    summary.json      final numbers and status ("finished" or "failed" with the reason)
    data.json         fingerprint of the training data (root, length, index hash; kamim_lib.data.fingerprint)
    unreadable_files.txt  the image files skipped as unreadable (on_corrupt="skip"), one per line; only when there
                      were any (their count is in summary.json: kamim_lib.data.corrupt)
    checkpoints/      checkpoint-last.pt (unless checkpoint_dir points elsewhere)
    tensorboard/      event files when logger=tensorboard
    .lock             held by the process training in it (kamim_lib.engine.run_lock)

Only the main process writes. Every file is replaced atomically (``metrics.jsonl`` too: appending rewrites it
through a temporary file), so a kill or a full disk never leaves half a file. Files damaged anyway (by an older
version, a copy cut short) are read tolerantly and named: a partial last line of ``metrics.jsonl`` is dropped with a
notice, a damaged ``summary.json`` or ``data.json`` is reported and recomputed, a damaged line elsewhere is an error
naming the file and line.
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

from kamim_lib.checkpoint import LAST_CHECKPOINT, new_file_mode
from kamim_lib.config import TrainConfig, config_to_dict, run_dir, run_id

CONFIG_FILE = "config.json"
ENV_FILE = "env.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
DATA_FILE = "data.json"
SKIPPED_FILES_FILE = "unreadable_files.txt"
# Temporary files of atomic writes are ".<name>.<random>.tmp"; one left behind means a write was killed.
TEMPORARY_PATTERN = ".*.tmp"


class DamagedRunFileError(ValueError):
    """A file of a run directory cannot be parsed where it cannot simply be recomputed (names file and line)."""


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


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder, fsync and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temporary, new_file_mode())
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:  # e.g. a full disk: leave the previous file and no temporary behind
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data) -> None:
    """Write ``data`` as indented JSON via a temporary file and ``os.replace``."""
    write_text_atomic(path, json.dumps(_json_safe(data), indent=2, sort_keys=False) + "\n")


def read_json_lines(path: Path) -> list[dict]:
    """The records of a JSON-lines file; a partial last line (a write cut short) is dropped with a notice.

    Raises:
        DamagedRunFileError: a line other than the last cannot be parsed (naming the file and line).
    """
    if not path.is_file():
        return []
    lines = path.read_text(errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as error:
            if number == len(lines):
                print(f"notice: dropped the incomplete last line {number} of {path} (a write was cut short)",
                      file=sys.stderr)
                break
            raise DamagedRunFileError(f"{path} line {number} is damaged ({error}); remove that line (the "
                                      "epochs it records are then missing from the metrics) and run the same "
                                      "command again") from None
    return records


def read_json_or_none(path: Path, what: str) -> dict | None:
    """A run's JSON file, or None when it is missing or damaged (damage is named on stderr: it is recomputed)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        print(f"notice: {path} is damaged ({error}); {what}", file=sys.stderr)
        return None


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

    def resume_checkpoint_path(self) -> Path | None:
        """The checkpoint a resumed session starts from, or None.

        This configuration's checkpoint when it exists; otherwise one an earlier session of the same run wrote
        elsewhere: where its ``config.json`` says (``checkpoint_dir`` was changed since, e.g. to a larger disk after
        a full one, as the advice says), or the run folder's own ``checkpoints/``. New checkpoints always go to
        :attr:`checkpoint_path`.
        """
        candidates = [self.checkpoint_path]
        recorded = read_json_or_none(self.path / CONFIG_FILE, "it is written again when training starts") or {}
        earlier = (recorded.get("config") or {}).get("checkpoint_dir") if isinstance(recorded, dict) else None
        if earlier:
            candidates.append(Path(earlier) / self.config.section / self.run_id / LAST_CHECKPOINT)
        candidates.append(self.path / "checkpoints" / LAST_CHECKPOINT)
        return next((path for path in candidates if path.is_file()), None)

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def skipped_files_path(self) -> Path:
        """Where the files skipped as unreadable are recorded (:mod:`kamim_lib.data.corrupt`)."""
        return self.path / SKIPPED_FILES_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    def write_config(self, derived: dict) -> None:
        write_json_atomic(self.path / CONFIG_FILE, {"run_id": self.run_id, "config": config_to_dict(self.config),
                                                     "derived": derived})

    def write_env(self, env: dict) -> None:
        write_json_atomic(self.path / ENV_FILE, env)

    def append_metrics(self, record: dict) -> None:
        """Add one epoch's line; the file is rewritten atomically (a few hundred lines at most)."""
        records = self.read_metrics() + [_json_safe(record)]
        write_text_atomic(self.metrics_path, "".join(json.dumps(item) + "\n" for item in records))

    def read_metrics(self) -> list[dict]:
        """Every epoch's record (see :func:`read_json_lines` for damaged files)."""
        return read_json_lines(self.metrics_path)

    def keep_metrics_through(self, completed_epochs: int) -> None:
        """Drop lines of epochs after ``completed_epochs`` (written before a crash that the checkpoint predates)."""
        if self.metrics_path.is_file():
            kept = [record for record in self.read_metrics() if record.get("epoch", 0) <= completed_epochs]
            write_text_atomic(self.metrics_path, "".join(json.dumps(record) + "\n" for record in kept))

    @property
    def data_path(self) -> Path:
        return self.path / DATA_FILE

    def check_writable(self) -> None:
        """Create the run and checkpoint folders and check that they can be written (see check_writable_folder)."""
        check_writable_folder(self.path, "out_dir")
        check_writable_folder(self.checkpoint_dir, "checkpoint_dir" if self.config.checkpoint_dir else "out_dir")

    def read_data_fingerprint(self) -> dict | None:
        return read_json_or_none(self.data_path, "it is written again from the data")

    def write_data_fingerprint(self, fingerprint: dict) -> None:
        write_json_atomic(self.data_path, fingerprint)

    def write_summary(self, summary: dict) -> None:
        write_json_atomic(self.summary_path, summary)

    def read_summary(self) -> dict | None:
        """The run's summary; None when there is none yet or it is damaged (the run then resumes from its last
        checkpoint and, if training was over, only evaluates and writes the summary again)."""
        return read_json_or_none(self.summary_path, "the run resumes from its last checkpoint and writes it again")
