"""What a resumable checkpoint holds for the training loop, and how it is put back."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from kamim_lib.checkpoint import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, CheckpointTooNewError,
                                  capture_rng_state, check_model_name, load_checkpoint, load_state_strict,
                                  restore_rng_state)
from kamim_lib.config import TrainConfig, config_hash, config_to_dict, run_id
from kamim_lib.methods.registry import METHODS as METHOD_REGISTRY
from kamim_lib.runtime import Runtime


@dataclass
class Progress:
    """Where training stands.

    Attributes:
        epoch: the epoch in progress (0-based); equals ``epochs`` when training is over.
        batches_done: micro-batches of ``epoch`` already consumed.
        optimizer_steps: optimiser steps taken since the start.
        loss_sum: sum of this epoch's micro-batch losses so far on this process (each rank keeps its own; the
            checkpoint stores every rank's under "ranks"), so epoch means stay exact across a resume.
        finished: every epoch is done.
    """

    epoch: int = 0
    batches_done: int = 0
    optimizer_steps: int = 0
    loss_sum: float = 0.0
    finished: bool = False


def checkpoint_state(*, config: TrainConfig, model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule,
                     scaler, progress: Progress, rank_states: list, derived: dict,
                     task_state: dict | None = None) -> dict:
    """The checkpoint dict (see :mod:`kamim_lib.checkpoint`); tensors may still be on the device.

    A finished run's checkpoint leaves out the optimiser, schedule and scaler (None) unless
    ``config.keep_training_state``: ``epochs`` is part of the run id, so a finished run never trains again, and
    only its weights are read afterwards (probing, fine-tuning, analyses).
    """
    slim = progress.finished and not config.keep_training_state
    return {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
        "section": config.section, "run_id": run_id(config), "config_hash": config_hash(config),
        "model_name": config.model, "config": config_to_dict(config), "derived": dict(derived),
        "model": model.state_dict(), "optimizer": None if slim else optimizer.state_dict(),
        "scheduler": None if slim else schedule.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None and not slim else None,
        "progress": asdict(progress), "ranks": rank_states, "task": task_state or {},
    }


def restore_training_state(state: dict, *, config: TrainConfig, model: torch.nn.Module,
                           optimizer: torch.optim.Optimizer, schedule, scaler, runtime: Runtime,
                           derived: dict, path, task=None) -> Progress:
    """Load model, optimiser, schedule, scaler, the task's own state (e.g. an EMA teacher) and this rank's RNG
    states; return the progress.

    Raises:
        CheckpointError: the checkpoint belongs to another run, model or data-parallel geometry, or was trained
            with another ``precision`` (refused: a run keeps one precision).
    """
    check_model_name(state, config.model, path)
    if state.get("section") != config.section or state.get("config_hash") != config_hash(config):
        raise CheckpointError(f"{str(path)!r} belongs to another run ({state.get('section')} "
                              f"{state.get('run_id')}); this run is {config.section} {run_id(config)}")
    trained = (state.get("config") or {}).get("precision", config.precision)
    if trained != config.precision:  # precision is not in the run id; mixing two silently would blur the run
        raise CheckpointError(
            f"cannot resume {str(path)!r} with precision={config.precision}: the run was trained with "
            f"precision={trained} so far. Set precision={trained} to resume it, or set run_name=<new name> to "
            f"train a separate run with precision={config.precision}.")
    for key in ("global_batch", "accum_steps", "steps_per_epoch"):
        if state["derived"].get(key) != derived[key]:
            raise CheckpointError(
                f"cannot resume {str(path)!r}: {key} was {state['derived'].get(key)}, now {derived[key]}. Resume "
                "with the same batch_size, effective batch and number of devices, or start a new run (run_name).")
    load_state_strict(model, state["model"], what="resumed model")
    if task is not None:
        task.load_state_dict(state.get("task") or {})
    progress = Progress(**state["progress"])
    if state.get("optimizer") is None:
        # A finished run's slim checkpoint: nothing is left to train, only the final evaluation runs again.
        if not progress.finished:
            raise CheckpointError(f"{str(path)!r} holds no optimiser state but its run is not finished; it cannot "
                                  "be resumed. Delete it to train the run again, or set run_name=<new name>.")
    else:
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
    rank_states = state.get("ranks") or []
    if len(rank_states) == runtime.world_size:  # guaranteed by the geometry check above
        mine = rank_states[runtime.rank]
        restore_rng_state(mine["rng"])
        progress.loss_sum = float(mine["loss_sum"])
    return progress


def gather_rank_states(runtime: Runtime, loss_sum: float) -> list[dict]:
    """Every rank's RNG states and epoch loss sum, in rank order (a collective: all ranks must call it)."""
    return runtime.all_gather_object({"rng": capture_rng_state(), "loss_sum": float(loss_sum)})


def load_resume_checkpoint(path) -> dict:
    """The run's last checkpoint, with the way forward in the message when it cannot be read.

    Raises:
        CheckpointTooNewError: written by a newer torch or kamim; says to upgrade (never to delete it).
        CheckpointError: unreadable (truncated, corrupt, not a kamim checkpoint); says how to go on.
    """
    try:
        return load_checkpoint(path)
    except CheckpointTooNewError as error:  # the file is fine: deleting it would throw the run's progress away
        raise CheckpointTooNewError(f"{error}, then run the same command again to resume; keep the file, it holds "
                                    "the run's progress") from None
    except CheckpointError as error:
        raise CheckpointError(f"{error}. This run cannot resume from it: move it away (or delete it) to start the "
                              f"run again from its first epoch, or put back a good copy, then run the same command "
                              "again.") from None


def non_finite_advice(config: TrainConfig, checkpoint) -> str:
    """What a non-finite loss message adds: which checkpoint was kept (if any) and the likeliest cause (the
    method's own :meth:`~kamim_lib.methods.base.Method.non_finite_hint` first)."""
    kept = (f"; the last good checkpoint ({checkpoint}) was kept" if Path(checkpoint).is_file()
            else "; no checkpoint had been saved yet")
    method = getattr(config, "method", None)
    hint = METHOD_REGISTRY.get(method).non_finite_hint(config) if method is not None else None
    return kept + (f". {hint}" if hint else ". Lower lr, check the data, or use precision=fp32.")
