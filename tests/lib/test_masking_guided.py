"""AttMask and keypoint-density-guided masking: the selection rules with known answers, the teacher, the EMA,
resume with the teacher's state, and training through `fit` (PEERS §2.8)."""
import math

import pytest
import torch

from kamim_lib.config import run_dir
from kamim_lib.engine import PretrainTask, build_task, fit
from kamim_lib.masking import RandomCellMask, attention_guided_mask, build_masking, density_guided_mask, tokens_to_cells
from kamim_lib.masking import attention
from kamim_lib.masking.attention import (attmask_selection, cls_attention_saliency, ema_momentum, ema_update,
                                         hint_counts)
from kamim_lib.runtime import Runtime
from kamim_lib.checkpoint import load_checkpoint

from engine_fixtures import state_dicts_equal, tiny_config

# 64 px, 16-px tokens (4x4), 16-px cells: a 4x4 cell grid. AttMask and density masks need a few cells.
GRID = {"img_size": 64, "mask_patch_size": 16}


def ramp(batch: int, side: int) -> torch.Tensor:
    """A monotone saliency: cell i (raster order) has saliency i, image b shifted by b (same ranking)."""
    return torch.arange(side * side, dtype=torch.float32).repeat(batch, 1).add(
        torch.arange(batch)[:, None]).reshape(batch, side, side)


@pytest.mark.parametrize("mode, expected", [("high", range(64 - 39, 64)), ("low", range(39))])
def test_high_and_low_mask_exactly_the_top_and_bottom_k(mode, expected):
    mask = attention_guided_mask(ramp(3, 8), 39, mode)
    assert mask.shape == (3, 8, 8) and mask.dtype == torch.int64
    for image in mask.reshape(3, -1):
        assert set(torch.nonzero(image).flatten().tolist()) == set(expected)


def test_hint_reveals_floor_show_max_k_cells_among_the_most_salient():
    k, cells = 39, 64
    reveal, pool = hint_counts(k, cells, 0.1)
    assert (reveal, pool) == (3, 6)
    generator = torch.Generator().manual_seed(1)
    mask = attention_guided_mask(ramp(16, 8), k, "hint", show_max=0.1, generator=generator).reshape(16, -1)
    high = set(range(cells - k, cells))
    most_salient = set(range(cells - pool, cells))
    revealed_sets = set()
    for image in mask:
        masked = set(torch.nonzero(image).flatten().tolist())
        assert len(masked) == k - reveal and masked <= high
        revealed = high - masked
        assert len(revealed) == reveal and revealed <= most_salient
        revealed_sets.add(frozenset(revealed))
    assert len(revealed_sets) > 1  # the hints are drawn at random, not always the same cells


def test_hint_on_a_grid_too_small_for_hints_is_an_error_not_a_silent_high(tmp_path):
    with pytest.raises(ValueError, match="no hint is possible"):
        attention_guided_mask(ramp(1, 4), 9, "hint", show_max=0.1)    # floor(0.1 * 9) = 0 cells to reveal
    assert attention_guided_mask(ramp(1, 4), 10, "hint").sum() == 9  # floor(1.0) = 1 of floor(1.6) = 1
    # The configuration refuses it up front: 4x4 cells with mask_ratio 0.5 give K = 8 and floor(0.8) = 0 hints.
    with pytest.raises(ValueError, match="no hint is possible"):
        tiny_config(tmp_path, masking="attmask", attmask_mode="hint", mask_ratio=0.5, **GRID)
    # At token level on 128 px (8x8 tokens of 16 px) there is room: floor(0.1 * 32) = 3 of floor(6.4) = 6.
    assert tiny_config(tmp_path, masking="attmask", attmask_mode="hint", attmask_level="token", mask_ratio=0.5,
                       img_size=128, mask_patch_size=32).attmask_level == "token"


@pytest.mark.parametrize("level, rounding, expected", [
    ("cell", "ceil", (2, 6, 22)), ("cell", "floor", (2, 6, 21)),      # 6x6 cells of 2x2 tokens: 36 * 0.6 = 21.6
    ("token", "ceil", (1, 12, 87)), ("token", "floor", (1, 12, 86)),  # 12x12 tokens: 144 * 0.6 = 86.4
])
def test_attmask_selection_counts_cells_or_tokens_with_the_chosen_rounding(level, rounding, expected):
    geometry = RandomCellMask(input_size=192, mask_patch_size=32, model_patch_size=16, mask_ratio=0.6)
    assert attmask_selection(geometry, level, rounding) == expected


def test_the_strategy_and_its_config_check_agree_on_the_masked_count(tmp_path):
    # 4x4 cells, r = 0.6: ceil gives K = 10 and a hint of floor(1.0) = 1; floor gives K = 9 and floor(0.9) = 0.
    assert build_masking(tiny_config(tmp_path, masking="attmask", attmask_mode="hint", **GRID),
                         patch_size=16).num_masked == 10
    with pytest.raises(ValueError, match=r"floor\(0.1·9\) = 0 of the floor\(0.1·16\) = 1 most salient cells"):
        tiny_config(tmp_path, masking="attmask", attmask_mode="hint", attmask_rounding="floor", **GRID)
    assert build_masking(tiny_config(tmp_path, masking="attmask", attmask_rounding="floor", **GRID),
                         patch_size=16).num_masked == 9


def test_one_function_counts_for_the_strategy_and_for_its_config_check(tmp_path, monkeypatch):
    # A second copy of the rounding in either place would ignore this replacement (K = 10 unpatched).
    monkeypatch.setattr(attention, "attmask_selection", lambda geometry, level, rounding: (1, 4, 9))
    with pytest.raises(ValueError, match=r"floor\(0.1·9\) = 0"):
        tiny_config(tmp_path, masking="attmask", attmask_mode="hint", **GRID)
    strategy = build_masking(tiny_config(tmp_path, masking="attmask", **GRID), patch_size=16)
    assert (strategy.selection_scale, strategy.units_per_side, strategy.num_masked) == (1, 4, 9)


def test_density_guided_masks_pick_the_densest_or_sparsest_cells():
    density = ramp(2, 4) / 20.0
    highest = density_guided_mask(density, 5, "highest").reshape(2, -1)
    lowest = density_guided_mask(density, 5, "lowest").reshape(2, -1)
    for image in highest:
        assert set(torch.nonzero(image).flatten().tolist()) == {11, 12, 13, 14, 15}
    for image in lowest:
        assert set(torch.nonzero(image).flatten().tolist()) == {0, 1, 2, 3, 4}


def test_density_sampling_prefers_dense_cells_and_beta_zero_is_uniform():
    density = torch.zeros(4000, 2, 2)
    density[:, 0, 0] = 0.5   # one dense cell among three empty ones
    generator = torch.Generator().manual_seed(0)
    uniform = torch.rand(4000, 4, generator=generator)
    dense_hits = density_guided_mask(density, 1, "sample", beta=1.0, uniform=uniform)[:, 0, 0].float().mean()
    # P(dense) = (0.5 + 1e-3) / (0.5 + 4e-3) = 0.994 for beta = 1
    assert dense_hits > 0.98
    flat_hits = density_guided_mask(density, 1, "sample", beta=0.0, uniform=uniform)[:, 0, 0].float().mean()
    assert abs(float(flat_hits) - 0.25) < 0.03
    assert (density_guided_mask(density, 2, "sample", beta=1.0, uniform=uniform).sum(dim=(1, 2)) == 2).all()


def test_ema_update_equals_its_formula_and_the_momentum_schedule_ends_at_one():
    teacher, student = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = teacher.weight.detach().clone()
    ema_update(teacher, student, 0.9)
    torch.testing.assert_close(teacher.weight, 0.9 * before + 0.1 * student.weight, rtol=0, atol=1e-7)
    assert ema_momentum(0, 100, 0.996) == pytest.approx(0.996)
    assert ema_momentum(50, 100, 0.996) == pytest.approx(0.998)
    assert ema_momentum(100, 100, 0.996) == pytest.approx(1.0)


def test_the_teacher_never_receives_the_mask(tmp_path, monkeypatch):
    task = build_task(tiny_config(tmp_path, method="simmim", masking="attmask", **GRID), Runtime("cpu"))
    task.attach(task.model)
    calls = []
    original = type(task.masking.teacher).embed

    def spy(self, images, mask=None):
        calls.append(mask)
        return original(self, images, mask)

    monkeypatch.setattr(type(task.masking.teacher), "embed", spy)
    batch = task.collate([task.train_dataset[i] for i in range(4)])
    mask = task.masking.device_mask(batch, task.model, Runtime("cpu"), seed=3, epoch=0)
    assert calls and all(call is None for call in calls)
    assert mask.shape == (4, 4, 4) and (mask.sum(dim=(1, 2)) == math.ceil(16 * 0.6)).all()
    # The high mask equals the top-k of the teacher's own CLS attention (pooled to 16-px cells = tokens here).
    saliency = cls_attention_saliency(task.masking.teacher, batch["image"].float().sub(120).div(60))
    assert saliency.shape == (4, 4, 4)
    torch.testing.assert_close(saliency.sum(dim=(1, 2)), torch.ones(4))


@pytest.mark.parametrize("probability, guided_share", [(0.0, 0.0), (1.0, 1.0)])
def test_masking_prob_zero_gives_random_masks_and_one_gives_guided_masks(tmp_path, probability, guided_share):
    task = build_task(tiny_config(tmp_path, method="simmim", masking="attmask", masking_prob=probability,
                                  attmask_mode="low", **GRID), Runtime("cpu"))
    task.attach(task.model)
    batch = task.collate([task.train_dataset[i] for i in range(8)])
    masks = task.masking.device_mask(batch, task.model, Runtime("cpu"), seed=5, epoch=0)
    with torch.no_grad():
        from kamim_lib.data import normalize_on_device

        saliency = cls_attention_saliency(task.masking.teacher, normalize_on_device(batch["image"]))
    guided = attention_guided_mask(saliency, 10, "low")
    share = float((masks == guided).all(dim=(1, 2)).float().mean())
    assert share == guided_share
    assert (masks.sum(dim=(1, 2)) == 10).all()


def test_warmup_epochs_use_random_masks(tmp_path):
    task = build_task(tiny_config(tmp_path, method="simmim", masking="attmask", masking_warmup_epochs=1,
                                  **GRID), Runtime("cpu"))
    task.attach(task.model)
    batch = task.collate([task.train_dataset[i] for i in range(8)])
    first = task.masking.device_mask(batch, task.model, Runtime("cpu"), seed=1, epoch=0)
    second = task.masking.device_mask(batch, task.model, Runtime("cpu"), seed=2, epoch=0)
    assert not torch.equal(first, second)  # random: depends on the seed, not on the (fixed) teacher


def test_attmask_with_kamim_weights_trains_and_resumes_with_its_teacher(tmp_path, monkeypatch):
    settings = {"method": "kamim", "masking": "attmask", "checkpoint_every_steps": 3, "deterministic": True,
                **GRID}
    reference = fit(tiny_config(tmp_path / "reference", **settings))
    assert reference["status"] == "finished"
    crashed = tiny_config(tmp_path / "crashed", **settings)
    original, calls = PretrainTask.train_loss, {"n": 0}

    def interrupted(self, model, batch, step_seed):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self, model, batch, step_seed)

    monkeypatch.setattr(PretrainTask, "train_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(crashed)
    monkeypatch.setattr(PretrainTask, "train_loss", original)
    saved = load_checkpoint(run_dir(crashed) / "checkpoints" / "checkpoint-last.pt")
    assert saved["progress"]["optimizer_steps"] == 3 and saved["task"]["masking"]["teacher"]
    fit(crashed)
    expected = load_checkpoint(run_dir(tiny_config(tmp_path / "reference", **settings)) / "checkpoints"
                               / "checkpoint-last.pt")
    resumed = load_checkpoint(run_dir(crashed) / "checkpoints" / "checkpoint-last.pt")
    assert state_dicts_equal(resumed["model"], expected["model"])
    assert state_dicts_equal(resumed["task"]["masking"]["teacher"], expected["task"]["masking"]["teacher"])
    # The teacher moved away from the student's initial weights by EMA, and differs from the final student.
    assert not state_dicts_equal(resumed["task"]["masking"]["teacher"],
                                 {k[len("encoder."):]: v for k, v in resumed["model"].items()
                                  if k.startswith("encoder.")})


@pytest.mark.parametrize("mode", ["highest", "sample"])
def test_density_guided_masking_trains_through_fit(tmp_path, mode):
    summary = fit(tiny_config(tmp_path, method="simmim", masking="density", density_mode=mode, epochs=1, **GRID))
    assert summary["status"] == "finished" and math.isfinite(summary["train_loss_last_epoch"])


def test_density_guided_masks_on_a_batch_follow_the_fast_density(tmp_path):
    task = build_task(tiny_config(tmp_path, method="simmim", masking="density", **GRID), Runtime("cpu"))
    batch = task.collate([task.train_dataset[i] for i in range(4)])
    mask = task.masking.device_mask(batch, task.model, Runtime("cpu"), seed=0, epoch=0)
    from kamim_lib.keypoints import keypoint_map

    density = torch.nn.functional.avg_pool2d(keypoint_map(batch["image"], backend="torch").float(), 16)[:, 0]
    for image_mask, image_density in zip(mask.reshape(4, -1), density.reshape(4, -1)):
        masked, kept = image_density[image_mask == 1], image_density[image_mask == 0]
        assert masked.min() >= kept.max()  # every masked cell is at least as dense as every visible one
    assert tokens_to_cells(mask, 1).shape == (4, 4, 4)
