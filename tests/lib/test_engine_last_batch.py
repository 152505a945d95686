"""The incomplete last batch: kept by default (the original), dropped with drop_last; steps counted per epoch."""
import math

import pytest

from kamim_lib.config import load_config
from kamim_lib.engine import EpochBatchSampler, fit, loop
from kamim_lib.engine.sampling import accumulation_group_size

from engine_fixtures import tiny_config

IMAGENET_TRAIN = 1_281_167


def epoch_positions(sampler: EpochBatchSampler) -> list[list[int]]:
    sampler.set_epoch(0)
    order = sampler.order().tolist()
    inverse = {index: position for position, index in enumerate(order)}
    return [[inverse[index] for index, _ in batch] for batch in sampler]


@pytest.mark.parametrize("micro_batch, accum", [(1024, 2), (128, 16), (2048, 1)])
def test_imagenet_epoch_has_626_optimiser_steps_at_2048_like_the_original(micro_batch, accum):
    kept = EpochBatchSampler(IMAGENET_TRAIN, micro_batch, last_batch="keep")
    assert -(-kept.batches_per_epoch // accum) == 626  # the original: ceil(1281167 / 2048)
    assert kept.global_samples(0, kept.batches_per_epoch) == IMAGENET_TRAIN
    dropped = EpochBatchSampler(IMAGENET_TRAIN, micro_batch, last_batch="drop")
    assert dropped.batches_per_epoch // accum == 625


def test_kept_last_batch_covers_every_sample_once_in_one_process():
    sampler = EpochBatchSampler(50, 16, seed=3, last_batch="keep")
    positions = epoch_positions(sampler)
    assert [len(batch) for batch in positions] == [16, 16, 16, 2]
    assert sorted(p for batch in positions for p in batch) == list(range(50))
    assert [len(batch) for batch in epoch_positions(EpochBatchSampler(50, 16, last_batch="drop"))] == [16, 16, 16]


def test_kept_last_batch_is_split_evenly_over_processes_and_devices():
    # 62 = 2 x (3 processes x 8) + 14; the 14 leftover samples are cut to a multiple of the device count
    for partial_multiple, last_per_rank in ((None, 4), (9, 3)):  # 3 processes, or 3 processes x 3 SPMD devices
        per_rank = [epoch_positions(EpochBatchSampler(62, 8, rank=rank, world_size=3, last_batch="keep",
                                                      partial_multiple=partial_multiple)) for rank in range(3)]
        assert [[len(batch) for batch in batches] for batches in per_rank] == [[8, 8, last_per_rank]] * 3
        seen = sorted(p for batches in per_rank for batch in batches for p in batch)
        assert seen == list(range(48 + 3 * last_per_rank))  # disjoint and contiguous
    with pytest.raises(ValueError, match="partial_multiple=4 must be a positive multiple of world_size=3"):
        EpochBatchSampler(50, 8, world_size=3, last_batch="keep", partial_multiple=4)
    with pytest.raises(ValueError, match="last_batch='all' is not supported"):
        EpochBatchSampler(50, 8, last_batch="all")


def test_a_short_last_accumulation_group_is_averaged_over_its_own_micro_batches():
    assert [accumulation_group_size(batch, 4, 10) for batch in range(10)] == [4] * 8 + [2] * 2
    assert [accumulation_group_size(batch, 2, 1252) for batch in (0, 1249, 1250, 1251)] == [2, 2, 2, 2]
    assert accumulation_group_size(10009, 16, 10010) == 10  # ImageNet at micro-batch 128: 9 full + 15 images


@pytest.mark.parametrize("drop_last, steps_per_epoch, batch_sizes", [
    (False, 3, [16] * 7 + [8]),  # 120 = 7 x 16 + 8: groups of 3, 3 and 2 micro-batches
    (True, 2, [16] * 6),         # whole groups of full batches only
])
def test_training_keeps_or_drops_the_last_batch(tmp_path, monkeypatch, drop_last, steps_per_epoch, batch_sizes):
    assert load_config(None, section="pretrain").drop_last is False
    seen = []
    original_build = loop.build_task

    def recording_build(config, runtime):
        task = original_build(config, runtime)
        train_loss = task.train_loss

        def recording_loss(model, batch, step_seed):
            seen.append(int(batch["image"].shape[0]))
            return train_loss(model, batch, step_seed)

        task.train_loss = recording_loss
        return task

    monkeypatch.setattr(loop, "build_task", recording_build)
    config = tiny_config(tmp_path, method="simmim", max_train_samples=120, batch_size=16, accum_steps=3, epochs=2,
                         warmup_epochs=0.5, drop_last=drop_last)
    steps = []
    summary = fit(config, on_step=lambda info: steps.append(info["optimizer_steps"]))
    assert summary["derived"]["steps_per_epoch"] == steps_per_epoch
    assert summary["derived"]["micro_batches_per_epoch"] == len(batch_sizes)
    assert steps == list(range(1, 2 * steps_per_epoch + 1)) and summary["optimizer_steps"] == 2 * steps_per_epoch
    assert seen == batch_sizes * 2
    assert math.isfinite(summary["train_loss_last_epoch"])
