import pytest
import torch

from kamim_lib.losses import masked_l1


def _mask(batch=2, grid=4):
    mask = torch.zeros(batch, grid, grid, dtype=torch.int64)
    mask[:, :2, :] = 1
    mask[1, 3, 3] = 1
    return mask


def test_loss_equals_hand_computed_masked_mean():
    pred, target = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    mask = _mask()
    pixel_mask = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).bool()
    errors = [(pred[b, c] - target[b, c]).abs()[pixel_mask[b]] for b in range(2) for c in range(3)]
    expected = torch.cat(errors).mean()
    assert torch.allclose(masked_l1(pred, target, mask, patch_size=4), expected, atol=1e-6)


def test_small_known_value():
    pred = torch.zeros(1, 3, 2, 2)
    target = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    mask = torch.tensor([[[1, 0], [0, 1]]])
    # masked pixels hold 1 and 4 in every channel: mean = 2.5
    assert masked_l1(pred, target, mask, patch_size=1).item() == pytest.approx(2.5)


def test_uniform_weight_scales_loss_and_weight_normalisation_cancels_it():
    pred, target, mask = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16), _mask()
    base = masked_l1(pred, target, mask, 4)
    for weight in (torch.full((2, 1, 16, 16), 3.0), torch.full((2, 16, 16), 3.0), torch.full((2, 2, 2), 3.0)):
        assert torch.allclose(masked_l1(pred, target, mask, 4, weight=weight), 3 * base, rtol=1e-5)
        assert torch.allclose(masked_l1(pred, target, mask, 4, weight=weight, normalize="weight"), base, rtol=1e-5)


def test_patch_weights_are_upsampled_nearest():
    pred, target, mask = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8), torch.ones(1, 2, 2, dtype=torch.int64)
    patch_w = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    pixel_w = patch_w.repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1)
    expected = ((pred - target).abs() * pixel_w).sum() / (3 * 64)
    assert torch.allclose(masked_l1(pred, target, mask, 4, weight=patch_w), expected, atol=1e-6)


def test_unmasked_pixels_get_zero_gradient():
    pred = torch.randn(2, 3, 16, 16, requires_grad=True)
    mask = _mask()
    masked_l1(pred, torch.randn(2, 3, 16, 16), mask, 4, weight=torch.rand(2, 4, 4) + 1).backward()
    pixel_mask = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).unsqueeze(1).expand(-1, 3, -1, -1).bool()
    assert torch.all(pred.grad[~pixel_mask] == 0)
    assert torch.all(pred.grad[pixel_mask] != 0)


def test_bad_arguments_name_themselves():
    pred, target = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="normalize"):
        masked_l1(pred, target, torch.ones(1, 2, 2), 4, normalize="pixels")
    with pytest.raises(ValueError, match="mask"):
        masked_l1(pred, target, torch.ones(1, 3, 3), 4)
    with pytest.raises(ValueError, match="weight"):
        masked_l1(pred, target, torch.ones(1, 2, 2), 4, weight=torch.ones(1, 3, 3))


def test_norm_pix_target_standardises_each_patch_as_mae():
    from kamim_lib.losses import norm_pix_target

    torch.manual_seed(0)
    images = torch.randn(2, 3, 8, 8) * 3 + 1
    target = norm_pix_target(images, 4)
    patch = images[0, :, 4:8, 0:4].reshape(-1)           # one 4x4 patch, all 3 channels: 48 values
    expected = (patch - patch.mean()) / torch.sqrt(patch.var() + 1e-6)   # unbiased variance, as MAE
    torch.testing.assert_close(target[0, :, 4:8, 0:4].reshape(-1), expected)
    with pytest.raises(ValueError, match="do not tile"):
        norm_pix_target(images, 3)


def test_l2_criterion_on_masked_pixels_with_weights():
    from kamim_lib.losses import masked_reconstruction_loss

    pred, target = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 2.0)
    mask = torch.tensor([[[1, 0], [0, 0]]])
    weight = torch.tensor([[[3.0, 1.0], [1.0, 1.0]]])
    # One masked 2x2 patch: 12 values of (0 - 2)^2 = 4, weighted by 3, divided by 3 * 4 masked pixels.
    assert masked_reconstruction_loss(pred, target, mask, 2, weight=weight, criterion="l2").item() == \
        pytest.approx(4 * 3)
    assert masked_reconstruction_loss(pred, target, mask, 2, weight=weight, criterion="l1").item() == \
        pytest.approx(2 * 3)
    with pytest.raises(ValueError, match="criterion"):
        masked_reconstruction_loss(pred, target, mask, 2, criterion="huber")


def test_shuffled_weights_keep_each_images_values_and_lose_their_positions():
    from kamim_lib.methods.kamim import shuffle_weights_within_image

    weights = torch.arange(32, dtype=torch.float32).reshape(2, 4, 4)
    keys = torch.rand(2, 16, generator=torch.Generator().manual_seed(0))
    shuffled = shuffle_weights_within_image(weights, keys)
    for before, after in zip(weights, shuffled):
        assert sorted(before.flatten().tolist()) == sorted(after.flatten().tolist())
    assert not torch.equal(shuffled, weights)
    torch.testing.assert_close(shuffled.reshape(2, -1), weights.reshape(2, -1).gather(1, keys.argsort(dim=1)))


def test_weighted_loss_and_gradient_are_bit_identical_to_masking_then_weighting():
    # The loss forms M·ω once and multiplies the error by it; the original multiplies by M, then by ω. With M in
    # {0, 1} both give the same floats, so runs before and after the change train identically.
    torch.manual_seed(0)
    pred = torch.randn(4, 3, 24, 24, requires_grad=True)
    target, mask, weight = torch.randn(4, 3, 24, 24), (torch.rand(4, 4, 4) < 0.6).long(), torch.rand(4, 8, 8) * 5
    pixel_mask = mask.float().repeat_interleave(6, 1).repeat_interleave(6, 2).unsqueeze(1)
    pixel_weight = weight.repeat_interleave(3, 1).repeat_interleave(3, 2).unsqueeze(1)
    reference = ((pred - target).abs() * pixel_mask * pixel_weight).sum() / (pixel_mask.sum() * 3 + 1e-8)
    (reference_grad,) = torch.autograd.grad(reference, pred)
    loss = masked_l1(pred, target, mask, 6, weight=weight)
    (grad,) = torch.autograd.grad(loss, pred)
    assert torch.equal(loss, reference) and torch.equal(grad, reference_grad)
