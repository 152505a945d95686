import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from kamim_lib.analysis import (IMAGENET_MEAN, IMAGENET_STD, masked_input, paste_visible, pixel_mask, psnr,
                                reconstruction_metrics, ssim, ssim_map, unnormalize)
from kamim_lib.analysis.ssim import _gaussian_blur, gaussian_window, ssim_masked_and_full


def textured(batch=2, channels=3, height=48, width=40, seed=0, dtype=torch.float64):
    """Smooth structure plus noise, in [0, 1]: SSIM needs local structure to be meaningful."""
    generator = torch.Generator().manual_seed(seed)
    rows = torch.linspace(0, 3, height, dtype=dtype).reshape(1, 1, -1, 1)
    cols = torch.linspace(0, 5, width, dtype=dtype).reshape(1, 1, 1, -1)
    base = 0.5 + 0.3 * torch.sin(rows * 2 + cols) * torch.cos(cols * 1.5)
    noise = 0.1 * torch.randn(batch, channels, height, width, generator=generator, dtype=dtype)
    return (base + noise).clamp(0, 1)


def skimage_ssim(pred, target, data_range=1.0, full=False):
    return [structural_similarity(p, t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=data_range, channel_axis=0, full=full)
            for p, t in zip(pred.numpy(), target.numpy())]


def test_unnormalize_inverts_imagenet_normalisation():
    pixels = torch.rand(2, 3, 8, 8)
    mean = torch.tensor(IMAGENET_MEAN).reshape(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(3, 1, 1)
    assert torch.allclose(unnormalize((pixels - mean) / std), pixels, atol=1e-6)
    assert torch.allclose(unnormalize(((pixels - mean) / std)[0]), pixels[0], atol=1e-6)  # (C, H, W)
    far = torch.full((1, 3, 2, 2), 10.0)
    assert unnormalize(far).max() == 1.0 and unnormalize(far, clamp=False).min() > 1
    with pytest.raises(ValueError, match="one value per channel"):
        unnormalize(pixels, mean=(0.5,), std=(0.5,))


def test_pixel_mask_upsamples_token_masks_and_passes_pixel_masks():
    tokens = torch.tensor([[[1, 0], [0, 1]]])
    pixels = pixel_mask(tokens, 32, 32)
    assert pixels.shape == (1, 1, 32, 32)
    assert pixels[0, 0, 15, 15] == 1 and pixels[0, 0, 15, 16] == 0 and pixels[0, 0, 31, 31] == 1
    assert pixels.sum() == 2 * 16 * 16
    assert torch.equal(pixel_mask(pixels, 32, 32), pixels)
    assert torch.equal(pixel_mask(pixels[:, 0], 32, 32), pixels)
    with pytest.raises(ValueError, match="tile"):
        pixel_mask(torch.ones(1, 3, 3), 32, 32)


def test_masked_input_and_paste_visible_compose_panels():
    images, prediction = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    mask = torch.tensor([[[1, 0], [0, 0]]])
    shown = masked_input(images, mask, fill=0.5)
    assert shown[0, :, :2, :2].eq(0.5).all() and shown[0, :, 2:, :].eq(0).all()
    pasted = paste_visible(prediction, images, mask)
    assert pasted.sum() == 3 * 4 and pasted[0, :, :2, :2].eq(1).all()


def test_psnr_of_identical_images_is_infinite_or_capped():
    images = textured()
    assert torch.isinf(psnr(images, images)).all()
    assert torch.equal(psnr(images, images, max_db=100.0), torch.full((2,), 100.0, dtype=images.dtype))
    with np.errstate(divide="ignore"):  # skimage agrees: +inf
        assert peak_signal_noise_ratio(images[0].numpy(), images[0].numpy(), data_range=1.0) == math.inf


def test_psnr_of_a_known_mse():
    target = torch.zeros(1, 3, 8, 8)
    assert psnr(target + 0.1, target).item() == pytest.approx(20.0, abs=1e-4)   # MSE 0.01
    pred, target = textured(seed=1), textured(seed=2)
    mse = ((pred - target) ** 2).mean(dim=(1, 2, 3))
    assert torch.allclose(psnr(pred, target), 10 * torch.log10(1 / mse))
    for index in range(2):
        expected = peak_signal_noise_ratio(target[index].numpy(), pred[index].numpy(), data_range=1.0)
        assert psnr(pred, target)[index].item() == pytest.approx(expected)
    assert torch.allclose(psnr(pred * 255, target * 255, data_range=255.0), psnr(pred, target))


def test_masked_psnr_only_sees_masked_pixels():
    target = textured(batch=1, height=32, width=32)
    mask = torch.tensor([[[1, 0], [0, 0]]])          # top-left 16x16 block of 32x32
    pred = target.clone()
    pred[..., 16:, :] += 0.2                          # error outside the mask only
    assert torch.isinf(psnr(pred, target, mask)).all()
    assert torch.isfinite(psnr(pred, target)).all()
    pred = target.clone()
    pred[..., :16, :16] += 0.1                        # error inside the mask only: MSE 0.01 there
    assert psnr(pred, target, mask).item() == pytest.approx(20.0, abs=1e-6)
    assert psnr(pred, target).item() == pytest.approx(10 * math.log10(1 / (0.01 / 4)), abs=1e-6)
    assert torch.isnan(psnr(pred, target, torch.zeros(1, 2, 2)))    # nothing to score


def test_ssim_matches_skimage():
    pred, target = textured(seed=1), textured(seed=2)
    expected = skimage_ssim(pred, target)
    assert np.allclose(ssim(pred, target).numpy(), expected, atol=1e-10)
    maps = skimage_ssim(pred, target, full=True)
    assert np.allclose(ssim_map(pred, target).numpy(), np.stack([m for _, m in maps]), atol=1e-10)
    # float32 input, and another data range
    assert np.allclose(ssim(pred.float(), target.float()).numpy(), expected, atol=1e-5)
    assert np.allclose(ssim(pred * 255, target * 255, data_range=255.0).numpy(),
                       skimage_ssim(pred * 255, target * 255, data_range=255.0), atol=1e-10)


def test_ssim_of_identical_images_is_one_and_all_ones_mask_is_the_full_score():
    images, other = textured(), textured(seed=5)
    assert torch.allclose(ssim(images, images), torch.ones(2, dtype=images.dtype))
    full = ssim(images, other)
    assert torch.allclose(ssim(images, other, torch.ones(2, 48, 40)), full)  # pixel mask
    assert (full < 0.9).all()


def test_masked_ssim_only_sees_masked_pixels():
    target = textured(batch=1, height=64, width=64)
    pred = target.clone()
    pred[..., :, :16] = 1 - pred[..., :, :16]         # damage the left quarter
    mask = torch.zeros(1, 4, 4)
    mask[..., 2:] = 1                                 # score columns 32..63, beyond the 5-px window reach
    assert ssim(pred, target, mask).item() == pytest.approx(1.0, abs=1e-12)
    assert ssim(pred, target).item() < 0.9
    assert torch.isnan(ssim(pred, target, torch.zeros(1, 4, 4)))


def test_reconstruction_metrics_labels_masked_and_full_scores():
    pixels_target = textured(height=32, width=32)
    pixels_pred = (pixels_target + 0.05).clamp(0, 1)
    mask = torch.tensor([[[1, 0], [0, 1]], [[0, 1], [1, 1]]])
    raw = reconstruction_metrics(pixels_pred, pixels_target, mask, normalized=False)
    assert set(raw) == {"psnr_masked", "psnr_full", "ssim_masked", "ssim_full"}
    assert torch.allclose(raw["psnr_masked"], psnr(pixels_pred, pixels_target, mask))
    assert torch.allclose(raw["psnr_full"], psnr(pixels_pred, pixels_target))
    assert torch.allclose(raw["ssim_masked"], ssim(pixels_pred, pixels_target, mask))
    assert torch.allclose(raw["ssim_full"], ssim(pixels_pred, pixels_target))
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).reshape(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).reshape(3, 1, 1)
    normalised = reconstruction_metrics((pixels_pred - mean) / std, (pixels_target - mean) / std, mask)
    for name in raw:
        assert torch.allclose(normalised[name], raw[name], atol=1e-6), name


def test_image_metrics_reject_mismatched_inputs():
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError, match="window"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="data_range"):
        psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), data_range=0)
    with pytest.raises(ValueError, match="images"):
        psnr(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), torch.ones(3, 2, 2))


def test_the_masked_and_full_ssim_of_one_map_equal_the_two_separate_scores():
    generator = torch.Generator().manual_seed(3)
    target = torch.rand(3, 3, 48, 48, generator=generator, dtype=torch.float64)
    pred = (target + 0.2 * torch.randn(target.shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
    mask = (torch.rand(3, 3, 3, generator=generator) < 0.5).float()
    masked, full = ssim_masked_and_full(pred, target, mask)
    assert torch.equal(masked, ssim(pred, target, mask)) and torch.equal(full, ssim(pred, target))


@pytest.mark.parametrize("height, width", [(11, 11), (11, 23), (40, 17)])
def test_the_blur_is_scipys_reflect_gaussian_filter_at_every_size_the_window_fits(height, width):
    """The padding is folded into the filter matrices; at the smallest size (the 11-tap window) every output reads
    mirrored pixels on both sides, so a misplaced fold shows there first."""
    maps = torch.rand(3, height, width, dtype=torch.float64, generator=torch.Generator().manual_seed(height + width))
    expected = np.stack([gaussian_filter(m.numpy(), sigma=1.5, mode="reflect", truncate=3.5) for m in maps])
    blurred = _gaussian_blur(maps, gaussian_window(1.5, torch.float64))
    assert blurred.shape == maps.shape
    assert np.abs(blurred.numpy() - expected).max() < 1e-12
