"""Stopping cleanly on a signal: checkpoint at the next optimiser-step boundary, then exit with a known code.

A cluster scheduler warns a job before it ends it (SLURM: ``--signal=USR1@120``, then SIGTERM at the limit;
torchrun forwards SIGTERM to its workers; a closed terminal or ssh session sends SIGHUP). ``fit`` installs
handlers for SIGTERM, SIGUSR1, SIGHUP and SIGINT (Ctrl-C) that only record the request; the loop asks :meth:`StopSignals.should_stop` after every optimiser step, saves the
resumable checkpoint there and raises :class:`TrainingInterrupted`. The `kamim` commands turn it into one line and
the exit code :data:`EXIT_PREEMPTED` (75, ``EX_TEMPFAIL``: "try again", the code to requeue on) or, for Ctrl-C,
:data:`EXIT_INTERRUPTED` (130, the shell's 128 + SIGINT). A second Ctrl-C stops at once (KeyboardInterrupt).

Under several processes every rank must stop at the same step (each saves its part of the checkpoint through a
collective): the flag is summed over ranks at each boundary, so one signalled rank stops them all together.
"""
from __future__ import annotations

import signal
import threading

import torch

EXIT_PREEMPTED = 75
EXIT_INTERRUPTED = 130
# Signals that ask for checkpoint-and-exit: a scheduler's warning and termination, a hang-up (terminal or ssh
# session closed; handled like SIGTERM instead of dying without a checkpoint), and Ctrl-C.
STOP_SIGNALS = tuple(sig for sig in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGUSR1", None),
                                     getattr(signal, "SIGHUP", None), signal.SIGINT) if sig is not None)


class TrainingInterrupted(RuntimeError):
    """Training stopped on a signal after saving a resumable checkpoint.

    Attributes:
        signal_name: "SIGTERM", "SIGUSR1", "SIGHUP" or "SIGINT".
        checkpoint: the checkpoint the next run resumes from.
        optimizer_steps: optimiser steps it holds.
        exit_code: :data:`EXIT_INTERRUPTED` for Ctrl-C, else :data:`EXIT_PREEMPTED`.
    """

    def __init__(self, signal_name: str, checkpoint, optimizer_steps: int):
        self.signal_name = signal_name
        self.checkpoint = checkpoint
        self.optimizer_steps = optimizer_steps
        self.exit_code = EXIT_INTERRUPTED if signal_name == "SIGINT" else EXIT_PREEMPTED
        super().__init__(f"interrupted ({signal_name}) after optimiser step {optimizer_steps}; checkpoint saved to "
                         f"{checkpoint}. Run the same command again to resume from it.")


class StopSignals:
    """Records SIGTERM / SIGUSR1 / SIGHUP / SIGINT while installed (a context manager; restores the old handlers).

    Args:
        check_every: on runtimes where reading a value back stalls the device (XLA), agree on the flag only every
            this many optimiser steps; elsewhere it is checked at every step.
    """

    def __init__(self, *, check_every: int = 1):
        self.check_every = max(1, check_every)
        self.received: str | None = None
        self._previous: dict = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread only
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _record(self, signum, frame) -> None:
        if signum == signal.SIGINT and self.received == "SIGINT":
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without waiting for the step to end
        self.received = signal.Signals(signum).name

    def should_stop(self, runtime, optimizer_steps: int) -> bool:
        """Whether to checkpoint and stop at this step boundary; the same answer on every rank.

        A collective when ``runtime.world_size > 1``: every rank must call it at the same steps.
        """
        if runtime.world_size == 1:
            return self.received is not None
        if not runtime.cheap_sync and optimizer_steps % self.check_every:
            return False
        flag = torch.tensor([1.0 if self.received else 0.0], device=runtime.collective_device)
        stop = bool(runtime.all_reduce_sum(flag).item() > 0)
        if stop and self.received is None:
            self.received = "SIGTERM"  # another rank was signalled; report it as the scheduler's request
        return stop

    def interrupted(self, checkpoint, optimizer_steps: int) -> TrainingInterrupted:
        """The exception to raise once the checkpoint is saved."""
        return TrainingInterrupted(self.received or "SIGTERM", checkpoint, optimizer_steps)
