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
