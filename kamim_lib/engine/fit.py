"""The entry point of training: one process, or one replica per XLA device (``xla_mode="multiprocess"``).

It sits above :mod:`.loop` (one process's loop) and :mod:`.launch` (starting the replicas, each of which runs the
loop), so that neither of those two has to import the other.
"""
from __future__ import annotations

from typing import Callable

from kamim_lib.config import TrainConfig
from kamim_lib.engine.launch import fit_in_xla_processes, launches_xla_processes
from kamim_lib.engine.loop import train_in_this_process
from kamim_lib.runtime import Runtime


def fit(config: TrainConfig, *, runtime: Runtime | None = None,
        on_step: Callable[[dict], None] | None = None) -> dict:
    """Train (or resume, or return the finished result of) the run that ``config`` defines.

    Args:
        config: a :class:`PretrainConfig`, :class:`FinetuneConfig` or :class:`LinprobeConfig`.
        runtime: where to run; default ``create_runtime(config.device, config.precision, xla_mode=...)``
            (torchrun detected). With ``device="xla"``, ``xla_mode="multiprocess"`` and no runtime, ``fit`` starts
            one replica per XLA device with ``torch_xla.launch`` (see :mod:`.launch`), waits for them and returns
            the summary that replica 0 wrote.
        on_step: called after every optimiser step with ``{"epoch", "optimizer_steps", "lr", "loss", "model"}``
            (``loss`` is None on XLA, where reading it back would stall the device; ``model`` is the unwrapped
            module being trained); handy for live plots in notebooks. Under ``xla_mode="multiprocess"`` it runs
            in every replica's process, so it must be picklable (a module-level function).

    Returns:
        The summary (also written to ``summary.json``): status, run id and directory, epochs, optimiser steps,
        first/last epoch train loss, validation top-1/top-5 (classifiers), kNN (linear probing), throughput.

    Raises:
        NonFiniteLossError: a NaN/inf loss or gradient norm; summary.json records the failure and the last good
            checkpoint stays as it was.
        ValueError, FileNotFoundError: bad configuration, data or pretrained checkpoint, an output folder that
            cannot be written, other data than the run was trained on (clear messages).
        TrainingInterrupted: SIGTERM / SIGUSR1 / Ctrl-C; a checkpoint was saved at that optimiser step
            (:mod:`.preemption`).
        RunLockedError: another process is training in the run directory (:mod:`.run_lock`).
    """
    if runtime is None and launches_xla_processes(config):
        return fit_in_xla_processes(config, on_step=on_step)
    return train_in_this_process(config, runtime=runtime, on_step=on_step)
