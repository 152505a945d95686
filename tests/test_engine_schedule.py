"""Learning-rate schedule: warm-up + cosine per optimiser step, smooth across accumulation and epoch boundaries."""
import math

import pytest

from kamim_lib.engine import fit, lr_at_step

from engine_fixtures import tiny_config

SCHEDULE = dict(base_lr=1e-3, warmup_lr=1e-6, min_lr=1e-5, warmup_steps=10, total_steps=110)


def test_warmup_is_linear_from_warmup_lr_to_lr():
    assert lr_at_step(0, **SCHEDULE) == pytest.approx(1e-6)
    assert lr_at_step(5, **SCHEDULE) == pytest.approx(1e-6 + (1e-3 - 1e-6) / 2)
    assert lr_at_step(10, **SCHEDULE) == pytest.approx(1e-3)


def test_cosine_decays_to_min_lr_and_stays_there():
    halfway = 10 + 50
    assert lr_at_step(halfway, **SCHEDULE) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)
    assert lr_at_step(110, **SCHEDULE) == pytest.approx(1e-5)
    assert lr_at_step(500, **SCHEDULE) == pytest.approx(1e-5)
    values = [lr_at_step(step, **SCHEDULE) for step in range(10, 111)]
    assert all(later <= earlier for earlier, later in zip(values, values[1:]))


def test_no_warmup_starts_at_lr():
    assert lr_at_step(0, **{**SCHEDULE, "warmup_steps": 0}) == pytest.approx(1e-3)


def test_training_steps_the_lr_per_optimiser_step_under_accumulation(tmp_path):
    # 128 images, micro-batch 8, 4 micro-batches per step: 4 optimiser steps per epoch, 3 epochs, 1 warm-up epoch.
    config = tiny_config(tmp_path, method="simmim", batch_size=8, accum_steps=4, epochs=3, warmup_epochs=1.0)
    seen = []

    summary = fit(config, on_step=lambda info: seen.append((info["epoch"], info["optimizer_steps"], info["lr"])))
    assert summary["derived"]["accum_steps"] == 4 and summary["derived"]["steps_per_epoch"] == 4
    assert [step for _, step, _ in seen] == list(range(1, 13))  # one call per optimiser step, not per micro-batch
    expected = [lr_at_step(k, base_lr=1e-3, warmup_lr=config.warmup_lr, min_lr=1e-5, warmup_steps=4,
                           total_steps=12) for k in range(12)]
    assert [lr for _, _, lr in seen] == pytest.approx(expected)
    lrs = [lr for _, _, lr in seen]
    assert all(b > a for a, b in zip(lrs[:5], lrs[1:5]))  # warm-up rises to the peak at step 4
    assert all(b <= a for a, b in zip(lrs[4:], lrs[5:]))  # then only decreases, also across epoch boundaries
    # The original's counter (epoch * steps_per_epoch + micro-batch index) would jump back at each epoch start.
    original = [lr_at_step(epoch * 4 + micro, base_lr=1e-3, warmup_lr=1e-6, min_lr=1e-5, warmup_steps=4,
                           total_steps=12) for epoch in range(3) for micro in range(3, 16, 4)]
    assert any(b > a for a, b in zip(original[4:], original[5:])), "the saw-tooth reference should rise somewhere"


def test_a_finished_run_is_returned_not_trained_again(tmp_path):
    first = fit(tiny_config(tmp_path, method="simmim", epochs=2, warmup_epochs=1.0))
    assert first["optimizer_steps"] == 16 and math.isfinite(first["train_loss_last_epoch"])
    resumed = []
    longer = tiny_config(tmp_path, method="simmim", epochs=2, warmup_epochs=1.0)
    assert fit(longer, on_step=lambda info: resumed.append(info)) == first  # finished: nothing re-trained
    assert resumed == []
