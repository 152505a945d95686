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
