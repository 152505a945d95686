"""MixUp/CutMix on the device: shapes, conserved image and label mass, and mode-specific structure."""
import pytest
import torch

from kamim_lib.data import MixupCutmix


def _batch(batch_size=6, num_classes=5):
    images = torch.randn(batch_size, 3, 16, 12)
    labels = torch.arange(batch_size) % num_classes
    return images, labels


@pytest.mark.parametrize("mixup_alpha, cutmix_alpha", [(1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)])
def test_shapes_rows_and_conserved_mass(mixup_alpha, cutmix_alpha):
    images, labels = _batch()
    mixer = MixupCutmix(num_classes=5, mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha, seed=0)
    for _ in range(20):
        mixed, targets = mixer(images, labels)
        assert mixed.shape == images.shape and mixed.dtype == images.dtype
        assert targets.shape == (6, 5) and targets.dtype == torch.float32
        torch.testing.assert_close(targets.sum(dim=1), torch.ones(6))
        # each image is mixed with its partner in the reversed batch: sums over the batch are conserved
        torch.testing.assert_close(mixed.sum(dim=0), images.sum(dim=0), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(targets.sum(dim=0), mixer.smooth_targets(labels).sum(dim=0))


def test_label_smoothing_values():
    mixer = MixupCutmix(num_classes=4, mixup_alpha=0.0, cutmix_alpha=0.0, label_smoothing=0.1)
    _, targets = mixer(torch.zeros(2, 3, 4, 4), torch.tensor([0, 3]))
    torch.testing.assert_close(targets, torch.tensor([[0.925, 0.025, 0.025, 0.025], [0.025, 0.025, 0.025, 0.925]]))


def test_mixup_is_a_convex_combination_with_the_target_weight():
    images, labels = _batch()
    mixer = MixupCutmix(num_classes=5, cutmix_alpha=0.0, label_smoothing=0.0, seed=1)
    mixed, targets = mixer(images, labels)
    lam = targets[1, labels[1]]  # labels 1 and 4 (its partner) differ, so this entry is exactly lam
    assert 0.0 < lam < 1.0
    torch.testing.assert_close(mixed[1], lam * images[1] + (1 - lam) * images[4])
    torch.testing.assert_close(targets[1, labels[4]], 1 - lam)


def test_switch_probability_picks_cutmix_half_the_time():
    mixer = MixupCutmix(num_classes=5, seed=5)
    cutmix = sum(mixer.sample_params(16, 16)[0] for _ in range(400))
    assert 160 <= cutmix <= 240  # 200 expected, sd 10


def test_cutmix_pastes_one_box_whose_area_is_the_label_weight():
    images, labels = _batch(batch_size=4, num_classes=4)
    mixer = MixupCutmix(num_classes=4, mixup_alpha=0.0, label_smoothing=0.0, seed=3)
    for _ in range(10):
        mixed, targets = mixer(images, labels)
        from_partner = (mixed[0] == images[3]).all(dim=0) & (mixed[0] != images[0]).any(dim=0)  # (H, W)
        kept = (mixed[0] == images[0]).all(dim=0)
        assert torch.all(from_partner | kept)
        rows, cols = from_partner.nonzero(as_tuple=True)
        if len(rows):
            box = from_partner[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
            assert torch.all(box)  # a rectangle
        torch.testing.assert_close(targets[0, labels[0]], kept.float().mean())


def test_same_seed_same_batch_and_works_in_bfloat16():
    images, labels = _batch()
    first = MixupCutmix(num_classes=5, seed=11)(images, labels)
    second = MixupCutmix(num_classes=5, seed=11)(images, labels)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    mixed, _ = MixupCutmix(num_classes=5, seed=11)(images.bfloat16(), labels)
    assert mixed.dtype == torch.bfloat16


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        MixupCutmix(num_classes=0)
    with pytest.raises(ValueError, match="switch_prob"):
        MixupCutmix(num_classes=3, switch_prob=1.5)
    with pytest.raises(ValueError, match="labels"):
        MixupCutmix(num_classes=3)(torch.zeros(2, 3, 4, 4), torch.zeros(3, dtype=torch.int64))


def _grouped_task(group_size, *, batch_size=128, world_size=1, rank=0, samples_per_process=1):
    """A ClassifierTask reduced to what its MixUp seed depends on."""
    from types import SimpleNamespace

    from kamim_lib.engine.tasks import ClassifierTask

    task = object.__new__(ClassifierTask)
    task.config = SimpleNamespace(seed=7, mixup_group_size=group_size)
    task.runtime = SimpleNamespace(world_size=world_size, rank=rank)
    task.process_batch = batch_size * samples_per_process
    task.epoch = 3
    return task


def _seeds(task, accumulation, micro_batches):
    seeds = []
    for index in micro_batches:
        task.set_micro_batch(index, accumulation)
        seeds.append(task.mix_seed(step_seed=1000 + index))
    return seeds


def test_mixup_group_shares_one_draw_per_1024_images_as_the_original():
    # The original draws MixUp/CutMix once per DataLoader batch of 1024 images (2048 / accumulation 2).
    # One GPU: 16 micro-batches of 128 per optimiser step -> micro-batches 0-7 share a draw, 8-15 another.
    one_gpu = _seeds(_grouped_task(1024), 16, range(32))
    assert len(set(one_gpu[:8])) == 1 and len(set(one_gpu[8:16])) == 1 and one_gpu[0] != one_gpu[8]
    assert len(set(one_gpu)) == 4  # two groups per step, two steps
    # 8 GPUs: 2 micro-batches of 128 per device and step -> micro-batch 0 of every rank is one group.
    first = [_seeds(_grouped_task(1024, world_size=8, rank=rank), 2, [0, 1]) for rank in range(8)]
    assert len({seeds[0] for seeds in first}) == 1 and len({seeds[1] for seeds in first}) == 1
    assert first[0][0] != first[0][1]
    # The same group is the same draw however the 1024 images are spread (one GPU's first group == 8 GPUs').
    assert one_gpu[0] == first[0][0]
    # Without the key each device micro-batch draws its own (the step seed), as before.
    assert _seeds(_grouped_task(None), 16, range(3)) == [1000, 1001, 1002]


def test_mixup_group_size_is_checked_and_left_out_of_the_run_id_when_unset():
    from kamim_lib.config import load_config, run_id

    base = {"model": "vit_nano", "dataset": "digits", "img_size": 64, "batch_size": 32, "effective_batch_size": 128,
            "pretrained": "scratch"}
    plain = load_config(base, [], section="finetune")
    assert plain.mixup_group_size is None
    grouped = load_config(base, ["mixup_group_size=64"], section="finetune")
    assert run_id(grouped) != run_id(plain)
    for bad in ("48", "96"):  # not a multiple of batch_size; does not divide effective_batch_size
        with pytest.raises(ValueError, match="mixup_group_size"):
            load_config(base, [f"mixup_group_size={bad}"], section="finetune")


def test_the_paper_configuration_groups_mixup_like_the_original():
    from pathlib import Path

    from kamim_lib.config import load_config

    paper = Path(__file__).resolve().parents[2] / "params" / "train" / "paper.yaml"
    for section in ("finetune", "linprobe"):
        config = load_config(paper, ["data_root=/tmp", "pretrained=scratch"], section=section)
        assert config.mixup_group_size == 1024 and config.effective_batch_size == 2048


def test_a_run_with_grouped_mixup_trains_and_groups_its_micro_batches(tmp_path, monkeypatch):
    from engine_fixtures import tiny_config
    from kamim_lib.engine import fit
    from kamim_lib.engine.tasks import ClassifierTask

    drawn = []
    original = ClassifierTask.mix_seed
    monkeypatch.setattr(ClassifierTask, "mix_seed", lambda self, step_seed: drawn.append(original(self, step_seed))
                        or drawn[-1])
    config = tiny_config(tmp_path, "finetune", pretrained="scratch", epochs=1, mixup_alpha=1.0, cutmix_alpha=1.0,
                         effective_batch_size=64, mixup_group_size=32)
    summary = fit(config)
    assert summary["status"] == "finished"
    # 128 images, micro-batches of 16, 4 per optimiser step, groups of 32 images: pairs of micro-batches share
    assert len(drawn) == 8 and all(drawn[i] == drawn[i + 1] for i in range(0, 8, 2)) and len(set(drawn)) == 4
