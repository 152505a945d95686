"""Learning-rate schedule: warm-up + cosine per optimiser step, smooth across accumulation and epoch boundaries.

The default shape is the original's (timm CosineLRScheduler without warmup_prefix, t_initial = 100 of 110 epochs);
it is checked against that scheduler's formula written out here and against timm itself.
"""
import math

import pytest
import torch

from kamim_lib.config import load_config
from kamim_lib.config.schema import LR_SCHEDULES
from kamim_lib.engine import WarmupCosineSchedule, fit, lr_at_step

from engine_fixtures import tiny_config

SCHEDULE = dict(base_lr=1e-3, warmup_lr=1e-6, min_lr=1e-5, warmup_steps=10, total_steps=110,
                shape="warmup_then_cosine")
# The paper's pretraining: 626 optimiser steps per ImageNet epoch at 2048 (last batch kept), 10 + 100 epochs.
STEPS_PER_EPOCH = 626
PAPER = dict(base_lr=8e-4, warmup_lr=1e-6, min_lr=1e-5, warmup_steps=10 * STEPS_PER_EPOCH,
             total_steps=110 * STEPS_PER_EPOCH)


def timm_formula(step: int, *, base_lr: float, warmup_lr: float, min_lr: float, warmup_t: int, t_initial: int) -> float:
    """timm's CosineLRScheduler (cycle_limit 1, no warmup_prefix, t_in_epochs False) at update ``step``."""
    if step < warmup_t:
        return warmup_lr + step * (base_lr - warmup_lr) / warmup_t
    if step >= t_initial:
        return min_lr
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * step / t_initial))


def paper_lr(epoch: float, shape: str = "original") -> float:
    return lr_at_step(round(epoch * STEPS_PER_EPOCH), **PAPER, shape=shape)


def original_lr(epoch: float) -> float:
    return timm_formula(round(epoch * STEPS_PER_EPOCH), base_lr=8e-4, warmup_lr=1e-6, min_lr=1e-5,
                        warmup_t=10 * STEPS_PER_EPOCH, t_initial=100 * STEPS_PER_EPOCH)


def test_default_shape_is_the_originals_at_warmup_end_mid_run_and_last_epoch():
    assert LR_SCHEDULES[0] == "original" and load_config(None, section="pretrain").lr_schedule == "original"
    for epoch in (0, 5, 10, 30, 55, 99.9, 100, 109.99):
        assert paper_lr(epoch) == pytest.approx(original_lr(epoch), rel=1e-12, abs=0), epoch
    # end of warm-up: the cosine has already run for 10 of its 100 epochs
    assert paper_lr(10) / 8e-4 == pytest.approx(0.9758, abs=1e-4)
    # the warm-up reaches the peak, then the LR drops onto the cosine (a step of 2.4 % of the peak)
    assert paper_lr(10 - 1 / STEPS_PER_EPOCH) / 8e-4 == pytest.approx(1.0, abs=2e-4)
    # mid-run and the last ten epochs, flat at min_lr
    assert paper_lr(55) == pytest.approx(1e-5 + 0.5 * (8e-4 - 1e-5) * (1 + math.cos(math.pi * 0.55)))
    assert paper_lr(100) == paper_lr(105) == paper_lr(110 - 1 / STEPS_PER_EPOCH) == 1e-5


def test_default_shape_equals_timms_scheduler_step_by_step():
    scheduler_module = pytest.importorskip("timm.scheduler.cosine_lr")
    steps_per_epoch, warmup, cosine = 7, 2, 10  # 12 "epochs" of 7 steps
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=5e-3)
    timm_scheduler = scheduler_module.CosineLRScheduler(
        optimizer, t_initial=cosine * steps_per_epoch, lr_min=2.5e-6, warmup_lr_init=2.5e-6,
        warmup_t=warmup * steps_per_epoch, cycle_limit=1, t_in_epochs=False)
    schedule = WarmupCosineSchedule(optimizer, base_lr=5e-3, warmup_lr=2.5e-6, min_lr=2.5e-6,
                                    warmup_steps=warmup * steps_per_epoch,
                                    total_steps=(warmup + cosine) * steps_per_epoch)
    for step in range((warmup + cosine) * steps_per_epoch):
        timm_scheduler.step_update(step)  # the original's fine-tune steps it with the optimiser-step count
        expected = optimizer.param_groups[0]["lr"]
        assert schedule.apply() == pytest.approx(expected, rel=1e-12), step
        schedule.step()


def test_the_two_shapes_differ_by_up_to_15_percent_of_the_peak():
    gaps = [abs(paper_lr(epoch / 10) - paper_lr(epoch / 10, "warmup_then_cosine")) / 8e-4 for epoch in range(1100)]
    assert max(gaps) == pytest.approx(0.154, abs=0.002)
    assert 50 <= gaps.index(max(gaps)) / 10 <= 60
    assert paper_lr(10, "warmup_then_cosine") == pytest.approx(8e-4)
    assert paper_lr(109.99, "warmup_then_cosine") > 1e-5 and paper_lr(100, "warmup_then_cosine") > 2e-5
    with pytest.raises(ValueError, match="shape='cosine' is not supported"):
        lr_at_step(0, **{**PAPER, "shape": "cosine"})


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
                           total_steps=12, shape=config.lr_schedule) for k in range(12)]
    assert [lr for _, _, lr in seen] == pytest.approx(expected)
    lrs = [lr for _, _, lr in seen]
    assert all(b > a for a, b in zip(lrs[:4], lrs[1:4]))  # warm-up rises over steps 0-3
    assert all(b <= a for a, b in zip(lrs[3:], lrs[4:]))  # then only decreases, also across epoch boundaries
    # The original's counter (epoch * steps_per_epoch + micro-batch index) would jump back at each epoch start.
    # (Shown on the warmup_then_cosine shape: in the original shape this short run's counter would overshoot
    # into the flat min_lr tail, hiding the jumps.)
    original = [lr_at_step(epoch * 4 + micro, base_lr=1e-3, warmup_lr=1e-6, min_lr=1e-5, warmup_steps=4,
                           total_steps=12, shape="warmup_then_cosine")
                for epoch in range(3) for micro in range(3, 16, 4)]
    assert any(b > a for a, b in zip(original[4:], original[5:])), "the saw-tooth reference should rise somewhere"


def test_a_finished_run_is_returned_not_trained_again(tmp_path):
    first = fit(tiny_config(tmp_path, method="simmim", epochs=2, warmup_epochs=1.0))
    assert first["optimizer_steps"] == 16 and math.isfinite(first["train_loss_last_epoch"])
    resumed = []
    longer = tiny_config(tmp_path, method="simmim", epochs=2, warmup_epochs=1.0)
    assert fit(longer, on_step=lambda info: resumed.append(info)) == first  # finished: nothing re-trained
    assert resumed == []
