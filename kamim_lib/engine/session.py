"""What surrounds one training session in a run directory, kept out of the loop itself.

:class:`RunSession` (a context manager entered by ``fit`` before any data or model is built):

1. checks that the run and checkpoint folders can be written (a clear error instead of a failure hours later);
2. locks the run directory (:mod:`.run_lock`; the main process takes it, every rank learns the outcome);
3. removes temporary files that killed writes left behind (safe under the lock);
4. records SIGTERM / SIGUSR1 / Ctrl-C (:mod:`.preemption`) until it exits;
5. compares the data with the fingerprint stored in ``data.json`` (:mod:`kamim_lib.data.fingerprint`);
6. forwards numbers to the tracker that ``logger`` selects (:mod:`.tracking`).
"""
from __future__ import annotations

import sys

from kamim_lib.config import TrainConfig, config_to_dict
from kamim_lib.data.fingerprint import data_fingerprint, describe_fingerprint, same_data
from kamim_lib.engine.preemption import StopSignals
from kamim_lib.engine.run_dir import ENV_FILE, RunDirectory, read_json_or_none, remove_stale_temporaries
from kamim_lib.engine.run_lock import RunLock, RunLockedError
from kamim_lib.engine.tracking import NullTracker, create_tracker
from kamim_lib.provenance import git_commit


class DataMismatchError(ValueError):
    """The run directory holds a run trained on other data than this configuration names."""


def data_mismatch_message(run: RunDirectory, stored: dict, current: dict) -> str:
    if stored.get("root") == current.get("root"):  # the same folder, changed since the run was trained
        return (f"run {run.path} was trained on {describe_fingerprint(stored)}, but the data there changed since "
                f"(now {describe_fingerprint(current)}). Set run_name=<new name> to train a separate run on the "
                "data as they are now, or put the original data back to use that run.")
    return (f"run {run.path} was trained on {describe_fingerprint(stored)}, but this configuration's data is "
            f"{describe_fingerprint(current)}. The run id does not include data_root: set run_name=<new name> to "
            f"train a separate run on this data, or set data_root={stored.get('root')} to use that run.")


class RunSession:
    """Lock, clean-up, signals, data check and tracking of one ``fit`` call (see the module docstring)."""

    def __init__(self, config: TrainConfig, run: RunDirectory, runtime):
        self.config = config
        self.run = run
        self.runtime = runtime
        self.signals = StopSignals(check_every=config.log_every_steps)
        self.tracker: NullTracker = NullTracker()
        self._lock: RunLock | None = None

    def __enter__(self) -> "RunSession":
        runtime = self.runtime
        problem = None
        if runtime.is_main:
            try:
                self.run.check_writable()
                self._lock = RunLock(self.run.path)
                self._lock.acquire()
            except (ValueError, RunLockedError) as error:
                problem = error
        # Every rank raises together, so no rank waits forever in a collective for one that gave up.
        outcome = runtime.all_gather_object(None if problem is None else (type(problem), str(problem)))[0]
        if problem is not None:
            raise problem
        if outcome is not None:
            raise outcome[0](outcome[1])
        if runtime.is_main:
            removed = remove_stale_temporaries(self.run.path, self.run.checkpoint_dir)
            if removed:
                print(f"removed {len(removed)} temporary file(s) left by an interrupted write: "
                      f"{', '.join(path.name for path in removed)}", file=sys.stderr)
        self.signals.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.signals.__exit__(*exc)
        self.tracker.close()
        if self._lock is not None:
            self._lock.release()

    # --- data identity ---
    def check_data(self, dataset) -> None:
        """Refuse to continue a run on other data; record the fingerprint (main process).

        Only a run that resumes from a checkpoint is compared: without one, nothing was trained on the old data.

        Raises:
            DataMismatchError: ``data.json`` describes different data (length or index hash).
        """
        problem = None
        if self.runtime.is_main:
            config = self.config
            current = data_fingerprint(dataset, name=config.dataset, root=config.data_root,
                                       options=config.dataset_options)
            stored = self.run.read_data_fingerprint()
            resuming = config.resume and self.run.resume_checkpoint_path() is not None
            if resuming and stored is not None and not same_data(stored, current):
                problem = data_mismatch_message(self.run, stored, current)
            elif stored != current:  # first start, or the same data moved to another root
                self.run.write_data_fingerprint(current)
        problem = self.runtime.all_gather_object(problem)[0]  # every rank stops together
        if problem is not None:
            raise DataMismatchError(problem)

    # --- tracking (main process only; the tracker is a no-op elsewhere) ---
    def start_tracking(self, start_step: int) -> None:
        self.tracker = create_tracker(self.config.logger, self.run.path, is_main=self.runtime.is_main,
                                      start_step=start_step)
        self.tracker.log_config(config_to_dict(self.config))

    # --- preemption ---
    def should_stop(self, optimizer_steps: int) -> bool:
        return self.signals.should_stop(self.runtime, optimizer_steps)

    def interrupted(self, optimizer_steps: int):
        return self.signals.interrupted(self.run.checkpoint_path, optimizer_steps)


def code_change_notice(run: RunDirectory, current_commit: str | None = None) -> str | None:
    """The one-line notice for reusing a finished run that was made with other code, or None.

    The run's ``env.json`` holds the commit it was trained at (``git_commit`` of :func:`kamim_lib.provenance`);
    it is compared with this checkout's (``current_commit``; default: read from git now). Nothing is said when
    either is unknown (no git, or a run from before env.json held it).
    """
    env = read_json_or_none(run.path / ENV_FILE, "it is written again when the run is trained again")
    stored = env.get("git_commit") if isinstance(env, dict) else None
    if not isinstance(stored, str) or stored in ("", "unknown"):
        return None
    current = current_commit or git_commit()
    if current == "unknown" or current == stored:
        return None
    return (f"notice: reusing the finished run {run.path}, made with other code: commit {stored} (its env.json), "
            f"this checkout is at {current}. Its numbers are that code's; set run_name=<new name> (or delete the "
            "run folder) to train it again with this code.")


def check_finished_run_data(config: TrainConfig, run: RunDirectory, build_train_split) -> None:
    """Before returning a finished run's summary: is this configuration's data the data it was trained on?

    The training split is always indexed and fingerprinted (contents included: file sizes plus a sample of
    bytes), since other pictures may sit under the same names at the same or another root; a moved copy of the
    same data is accepted.

    Args:
        build_train_split: ``() -> Dataset``, the training split as the run would use it.

    Raises:
        DataMismatchError: the data differ.
    """
    stored = run.read_data_fingerprint()
    if stored is None:
        return
    current = data_fingerprint(build_train_split(), name=config.dataset, root=config.data_root,
                               options=config.dataset_options)
    if not same_data(stored, current):
        raise DataMismatchError(data_mismatch_message(run, stored, current))
