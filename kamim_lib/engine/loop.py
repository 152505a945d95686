"""The one training loop, for pretraining, fine-tuning and linear probing on every runtime.

Per micro-batch: loss (the task's), ``loss / accum`` backward (DDP all-reduces on the last micro-batch of a group
only; an epoch's last group may be shorter when the last batch is kept, and then divides by its own length). Per
optimiser step: set the LR of this step (warm-up + cosine over optimiser steps), clip the gradient norm, refuse a
non-finite loss or gradient before it can touch the weights, step. Per epoch: evaluate (classifiers),
append a line to metrics.jsonl, save the resumable checkpoint. A run resumes from its last checkpoint
automatically; a finished run returns its summary without training again.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from typing import Callable

import torch
from torch.utils.data import DataLoader

from kamim_lib.checkpoint import save_checkpoint
from kamim_lib.progress import progress_bar, progress_write
from kamim_lib.provenance import provenance
from kamim_lib.config import TrainConfig
from kamim_lib.data.corrupt import LISTED_IN_SUMMARY, read_skipped_files, recording_skipped_files
from kamim_lib.runtime import (Runtime, create_runtime, describe_speed, fused_optimizer_enabled, loader_kwargs,
                               resolve_switch, tf32_matmuls)
from kamim_lib.runtime.compile import compile_model
from kamim_lib.engine.optim import build_optimizer
from kamim_lib.engine.out_of_memory import is_out_of_memory, out_of_memory_error
from kamim_lib.engine.run_dir import RunDirectory
from kamim_lib.engine.sampling import EpochBatchSampler, PositionSeededDataset, accumulation_group_size, mix_seed
from kamim_lib.engine.schedule import WarmupCosineSchedule
from kamim_lib.engine.session import RunSession, check_finished_run_data, code_change_notice
from kamim_lib.engine.tasks import build_split, build_task
from kamim_lib.engine.training_state import (Progress, checkpoint_state, gather_rank_states, load_resume_checkpoint,
                                             non_finite_advice, restore_training_state)


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss or gradient; the weights and the last checkpoint are left untouched."""


def accumulation_steps(config: TrainConfig, runtime: Runtime) -> int:
    """Micro-batches per optimiser step: ``effective_batch_size / (batch_size x devices)``, or ``accum_steps``.

    Raises:
        ValueError: the effective batch is not a whole multiple of ``batch_size x devices``.
    """
    if config.effective_batch_size is None:
        return config.accum_steps
    per_step = config.batch_size * runtime.num_replicas
    if config.effective_batch_size % per_step:
        raise ValueError(f"effective_batch_size={config.effective_batch_size} is not a multiple of batch_size="
                         f"{config.batch_size} x {runtime.num_replicas} device(s) = {per_step}; change "
                         "batch_size or effective_batch_size.")
    return config.effective_batch_size // per_step


def _is_finite(value: torch.Tensor) -> bool:
    return bool(torch.isfinite(value).all())


def train_in_this_process(config: TrainConfig, *, runtime: Runtime | None = None,
                          on_step: Callable[[dict], None] | None = None) -> dict:
    """:func:`~kamim_lib.engine.fit` in this one process (every XLA replica of a multi-process run calls it too).

    Arguments, result and errors: see :func:`~kamim_lib.engine.fit`.
    """
    owns_runtime = runtime is None
    runtime = runtime or create_runtime(config.device, config.precision, xla_mode=config.xla_mode)
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        with tf32_matmuls(resolve_switch("tf32", config.tf32, runtime.device.type)), \
                contextlib.ExitStack() as session_scope:
            return _fit(config, runtime, on_step, session_scope)
    except (MemoryError, RuntimeError) as error:
        if not is_out_of_memory(error):
            raise
        raise out_of_memory_error(error, config, RunDirectory(config).resume_checkpoint_path()) from error
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        if owns_runtime:
            runtime.shutdown()


def _fit(config: TrainConfig, runtime: Runtime, on_step, session_scope: contextlib.ExitStack) -> dict:
    run = RunDirectory(config)
    if config.resume:
        previous = run.read_summary()
        if previous is not None and previous.get("status") == "finished":
            check_finished_run_data(config, run, lambda: build_split(config, "train", None))
            notice = code_change_notice(run) if runtime.is_main else None
            if notice:
                print(notice, file=sys.stderr)
            return previous
    # Writable outputs, the run's lock, stale temporaries, signal handlers: before any data or model is built.
    session = session_scope.enter_context(RunSession(config, run, runtime))
    session_scope.enter_context(recording_skipped_files(run.skipped_files_path))  # counted in summary.json
    runtime.set_deterministic(config.deterministic)
    torch.manual_seed(config.seed)  # the same initial weights in every process
    task = build_task(config, runtime)
    session.check_data(task.train_dataset)
    model = task.model.to(runtime.device)
    task.attach(model)

    # --- geometry of an epoch, in micro-batches and optimiser steps ---
    # drop_last: whole accumulation groups of full batches only. Kept last batch (the original): every sample, the
    # last micro-batch possibly short and the last accumulation group possibly shorter than accum (626 steps per
    # ImageNet epoch at 2048).
    accum = accumulation_steps(config, runtime)
    loader_batch = config.batch_size * runtime.samples_per_process
    full_groups = len(task.train_dataset) // (loader_batch * runtime.world_size) // accum
    sampler = EpochBatchSampler(len(task.train_dataset), loader_batch, seed=config.seed, rank=runtime.rank,
                                world_size=runtime.world_size, shuffle=True,
                                last_batch="drop" if config.drop_last else "keep",
                                num_batches=full_groups * accum if config.drop_last else None,
                                partial_multiple=runtime.num_replicas)
    steps_per_epoch = -(-sampler.batches_per_epoch // accum)
    if steps_per_epoch == 0:
        raise ValueError(f"the training set ({len(task.train_dataset)} images) is smaller than one optimiser step "
                         f"({config.batch_size * runtime.num_replicas * accum} images with drop_last=true; "
                         f"{runtime.num_replicas} otherwise); lower batch_size or effective_batch_size, raise "
                         "max_train_samples, or set drop_last=false.")
    derived = {"accum_steps": accum, "steps_per_epoch": steps_per_epoch, "world_size": runtime.world_size,
               "micro_batches_per_epoch": sampler.batches_per_epoch,
               "num_replicas": runtime.num_replicas,
               "global_batch": config.batch_size * runtime.num_replicas * accum,
               "total_steps": config.epochs * steps_per_epoch,
               "warmup_steps": round(config.warmup_epochs * steps_per_epoch), **task.describe()}

    optimizer = build_optimizer(model, lr=config.lr, weight_decay=config.weight_decay, betas=config.betas,
                                no_weight_decay_1d=config.no_weight_decay_1d,
                                fused=fused_optimizer_enabled(config, runtime.device.type))
    schedule = WarmupCosineSchedule(optimizer, base_lr=config.lr, warmup_lr=config.warmup_lr, min_lr=config.min_lr,
                                    warmup_steps=derived["warmup_steps"], total_steps=derived["total_steps"],
                                    shape=config.lr_schedule)
    scaler = runtime.make_grad_scaler()
    progress = Progress()
    runtime.seed_everything(config.seed)
    resume_from = run.resume_checkpoint_path() if config.resume else None
    if resume_from is not None:
        if resume_from != run.checkpoint_path and runtime.is_main:  # checkpoint_dir changed (e.g. after a full disk)
            progress_write(f"resuming from {resume_from}; new checkpoints go to {run.checkpoint_path} (the old one "
                           "is left where it is)")
        state = load_resume_checkpoint(resume_from)
        progress = restore_training_state(state, config=config, model=model, optimizer=optimizer,
                                          schedule=schedule, scaler=scaler, runtime=runtime, derived=derived,
                                          path=resume_from, task=task)
        del state
    if runtime.is_main:
        run.write_config(derived)
        run.write_env({**runtime.describe(), "speed": describe_speed(config, runtime.device.type), **provenance()})
        run.keep_metrics_through(progress.epoch)
    session.start_tracking(progress.optimizer_steps)

    def save(current: Progress) -> None:
        rank_states = gather_rank_states(runtime, current.loss_sum)
        if runtime.is_main:
            state = checkpoint_state(config=config, model=model, optimizer=optimizer, schedule=schedule,
                                     scaler=scaler, progress=current, rank_states=rank_states, derived=derived,
                                     task_state=task.state_dict())
            save_checkpoint(runtime.to_cpu_state(state), run.checkpoint_path)
        runtime.barrier()

    def fail(reason: str) -> None:
        if runtime.is_main:
            run.write_summary({"status": "failed", "reason": reason, "section": config.section,
                               "run_id": run.run_id, "run_dir": str(run.path),
                               "last_checkpoint": str(run.checkpoint_path) if run.checkpoint_path.is_file()
                               else None})
        raise NonFiniteLossError(reason + non_finite_advice(config, run.checkpoint_path))

    def fail_on_bad_steps(bad_steps: torch.Tensor, where: str) -> None:
        """Stop if any step counted in ``bad_steps`` (an int64 scalar on the device) was non-finite; without a
        cheap sync (XLA) steps are only counted, and this is where the count is read back."""
        if int(bad_steps) > 0:
            fail(f"non-finite loss or gradient norm {where}")

    def save_mid_epoch(epoch: int, loss_sum: torch.Tensor, bad_steps: torch.Tensor) -> None:
        """Checkpoint inside ``epoch`` (``loss_sum``: this session's part of the epoch's loss), never after a
        non-finite step: the last checkpoint stays the last good one."""
        fail_on_bad_steps(bad_steps, f"before optimiser step {progress.optimizer_steps}")
        save(Progress(epoch, progress.batches_done, progress.optimizer_steps, progress.loss_sum + float(loss_sum)))

    train_model = compile_model(runtime.wrap_model(model), enabled=config.compile, device_type=runtime.device.type)
    loader = DataLoader(PositionSeededDataset(task.train_dataset), batch_sampler=sampler, collate_fn=task.collate,
                        **loader_kwargs(config, runtime.device.type))
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    max_norm = config.clip_grad if config.clip_grad is not None else math.inf
    session_start, session_images = time.perf_counter(), 0
    lr = schedule.current_lr()

    for epoch in range(progress.epoch, config.epochs):
        sampler.set_epoch(epoch, progress.batches_done)
        task.set_epoch(epoch)
        model.train()
        epoch_start, epoch_first_batch = time.perf_counter(), progress.batches_done
        loss_sum = torch.zeros((), dtype=torch.float64, device=runtime.device)  # this session's part of the epoch
        group_loss = torch.zeros((), dtype=torch.float32, device=runtime.device)
        bad_steps = torch.zeros((), dtype=torch.int64, device=runtime.device)  # checked lazily on XLA
        bar = progress_bar(total=sampler.batches_per_epoch, initial=progress.batches_done, leave=False,
                   desc=f"{config.section} epoch {epoch + 1}/{config.epochs}", mininterval=config.progress_interval,
                   disable=not (config.progress and runtime.is_main), unit="batch")
        for batch in runtime.wrap_loader(loader):
            batch = runtime.to_device(batch)
            step_seed = mix_seed(config.seed, runtime.rank, epoch, progress.batches_done)
            group_size = accumulation_group_size(progress.batches_done, accum, sampler.batches_per_epoch)
            closes_group = (progress.batches_done + 1) % accum == 0 \
                or progress.batches_done + 1 == sampler.batches_per_epoch
            task.set_micro_batch(progress.batches_done, accum)
            with contextlib.nullcontext() if closes_group else runtime.no_sync(train_model):
                loss = task.train_loss(train_model, batch, step_seed)
                scaled = loss / group_size  # the mean of the group's micro-batch losses
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            group_loss += loss.detach().float()
            progress.batches_done += 1
            bar.update(1)
            if not closes_group:
                continue

            lr = schedule.apply()
            runtime.reduce_gradients(optimizer)  # XLA multi-process: all-reduce before clipping and the check
            if scaler is not None:
                scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, max_norm)
            step_loss = group_loss / group_size
            # A NaN loss on any rank makes the all-reduced gradients NaN on every rank, so all ranks agree here.
            finite = torch.isfinite(step_loss) & (torch.isfinite(grad_norm) if scaler is None else True)
            if runtime.cheap_sync and not bool(finite):
                fail(f"non-finite loss ({float(step_loss)}) or gradient norm ({float(grad_norm)}) at epoch "
                     f"{epoch + 1}, optimiser step {progress.optimizer_steps + 1}")
            bad_steps += (~finite).to(torch.int64)
            runtime.optimizer_step(optimizer, scaler)
            optimizer.zero_grad(set_to_none=True)
            schedule.step()
            runtime.step_end()
            progress.optimizer_steps += 1
            task.after_optimizer_step(model, progress.optimizer_steps, derived["total_steps"])
            loss_sum += group_loss.to(torch.float64)
            group_loss.zero_()

            log_now = progress.optimizer_steps % config.log_every_steps == 0
            if log_now or on_step is not None:
                if not runtime.cheap_sync and log_now:
                    fail_on_bad_steps(bad_steps, f"before optimiser step {progress.optimizer_steps}")
                value = float(step_loss) if runtime.cheap_sync else None
                if log_now and value is not None:
                    bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2e}", refresh=False)
                if log_now:
                    session.tracker.log_step(progress.optimizer_steps, value, lr)
                if on_step is not None:
                    on_step({"epoch": epoch, "optimizer_steps": progress.optimizer_steps, "lr": lr, "loss": value,
                             "model": model})
            if config.checkpoint_every_steps and progress.optimizer_steps % config.checkpoint_every_steps == 0 \
                    and progress.batches_done < sampler.batches_per_epoch:
                save_mid_epoch(epoch, loss_sum, bad_steps)
            # A signal (scheduler, Ctrl-C) stops here; at an epoch's last step the epoch is finished first.
            if progress.batches_done < sampler.batches_per_epoch and session.should_stop(progress.optimizer_steps):
                save_mid_epoch(epoch, loss_sum, bad_steps)
                raise session.interrupted(progress.optimizer_steps)
        bar.close()
        fail_on_bad_steps(bad_steps, f"in epoch {epoch + 1}")

        # --- end of epoch: metrics, evaluation, checkpoint ---
        epoch_batches = progress.batches_done
        mean_loss = (progress.loss_sum + float(loss_sum)) / epoch_batches
        elapsed = time.perf_counter() - epoch_start
        images = sampler.global_samples(epoch_first_batch, epoch_batches)
        session_images += images
        record = {"epoch": epoch + 1, "optimizer_steps": progress.optimizer_steps, "lr": lr,
                  **{f"train_{key}": value for key, value in runtime.reduce_mean({"loss": mean_loss}).items()},
                  "epoch_time_s": round(elapsed, 3), "images_per_s": round(images / max(elapsed, 1e-9), 2)}
        last_epoch = epoch + 1 == config.epochs
        if last_epoch or (epoch + 1) % getattr(config, "eval_every_epochs", 1) == 0:
            record.update(task.evaluate(runtime))
        progress = Progress(epoch + 1, 0, progress.optimizer_steps, 0.0, finished=last_epoch)
        if runtime.is_main:
            run.append_metrics(record)
            if config.progress:
                progress_write(_epoch_line(record, config.epochs))
        session.tracker.log_epoch(progress.optimizer_steps, record)
        save(progress)
        if not last_epoch and session.should_stop(progress.optimizer_steps):
            raise session.interrupted(progress.optimizer_steps)

    summary = _finish(config, run, task, runtime, progress, session_images, time.perf_counter() - session_start,
                      derived)
    session.tracker.log_final(progress.optimizer_steps, summary)
    return summary


def _epoch_line(record: dict, epochs: int) -> str:
    """One human-readable line per epoch (the bar itself is transient)."""
    parts = [f"epoch {record['epoch']}/{epochs}", f"train_loss {record['train_loss']:.4f}", f"lr {record['lr']:.2e}",
             f"{record['images_per_s']:.0f} img/s"]
    if "val_top1" in record:
        parts.append(f"val top-1 {record['val_top1']:.2f}% top-5 {record['val_top5']:.2f}%")
    return "  ".join(parts)


def _finish(config: TrainConfig, run: RunDirectory, task, runtime: Runtime, progress: Progress,
            session_images: int, session_seconds: float, derived: dict) -> dict:
    """Final evaluation (kNN for probes) and summary.json."""
    final = task.final_evaluation(runtime)
    metrics = run.read_metrics() if runtime.is_main else []
    last = metrics[-1] if metrics else {}
    summary = {
        "status": "finished", "section": config.section, "run_id": run.run_id, "run_dir": str(run.path),
        "checkpoint": str(run.checkpoint_path), "epochs": config.epochs,
        "optimizer_steps": progress.optimizer_steps,
        "train_loss_first_epoch": metrics[0].get("train_loss") if metrics else None,
        "train_loss_last_epoch": last.get("train_loss"),
        **{key: value for key, value in last.items() if key.startswith("val_")},
        **final,
        "session_wall_time_s": round(session_seconds, 2),
        "session_images_per_s": round(session_images / session_seconds, 2) if session_seconds > 0 else None,
        "derived": derived,
    }
    skipped = read_skipped_files(run.skipped_files_path)
    summary["unreadable_files_skipped"] = len(skipped)  # on_corrupt="skip": see kamim_lib.data.corrupt
    if skipped:
        summary["unreadable_files"] = skipped[:LISTED_IN_SUMMARY]
    if runtime.is_main:
        run.write_summary(summary)
    return summary
