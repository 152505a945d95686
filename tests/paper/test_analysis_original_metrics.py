"""The original's reconstruction scores (torchmetrics defaults, re-implemented) against hand-computed values,
the original's analysis inputs, and the image-blind floor."""
import math

import pytest
import torch

from kamim_paper.evidence.image_floor import image_blind_reconstruction, training_mean_image
from kamim_paper.experiments.analysis_inputs import (load_analysis_images, original_analysis_transform,
                                                     original_subsample_indices)
from kamim_lib.analysis.original_metrics import original_psnr, original_ssim
from kamim_lib.analysis.psnr import psnr
from kamim_lib.analysis.ssim import ssim


def test_original_psnr_is_one_mse_over_the_batch_with_the_targets_range():
    target = torch.tensor([0.0, 1.0, 2.0, 3.0]).reshape(1, 1, 2, 2)
    target = torch.cat([target, torch.zeros(1, 1, 2, 2)])
    pred = target.clone()
    pred[0] += 1                      # image 1 off by 1 everywhere, image 2 exact
    # MSE = 4 / 8 = 0.5 over both images; range = 3 - 0 over the targets: 10·log10(9 / 0.5).
    assert original_psnr(pred, target) == pytest.approx(10 * math.log10(18.0), abs=1e-5)
    # kamim's per-image convention gives 10·log10(1/1) = 0 dB and +inf for these: another number entirely.
    assert psnr(pred, target)[0] == pytest.approx(0.0) and math.isinf(psnr(pred, target)[1])


def test_original_ssim_infers_the_range_from_both_batches():
    shape = (1, 1, 12, 12)
    pred = torch.cat([torch.full(shape, 0.2), torch.zeros(shape)]).double()  # float64: variances exactly 0
    target = torch.cat([torch.full(shape, 0.6), torch.ones(shape)]).double()
    c1 = (0.01 * 0.4) ** 2            # range = max(0.2 - 0, 1 - 0.6) = 0.4; constant images: variances 0
    first = (2 * 0.2 * 0.6 + c1) / (0.2 ** 2 + 0.6 ** 2 + c1)
    second = c1 / (1 + c1)
    assert original_ssim(pred, target) == pytest.approx((first + second) / 2, rel=1e-5)
    # With the same data range it is the per-image SSIM averaged.
    torch.manual_seed(0)
    a, b = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    span = float(max(a.max() - a.min(), b.max() - b.min()))
    assert original_ssim(a, b) == pytest.approx(float(ssim(a, b, None, span).mean()), rel=1e-6)
    with pytest.raises(ValueError, match="constant"):
        original_ssim(torch.zeros(shape), torch.zeros(shape))


def test_original_subsample_takes_the_first_sixty_fourth_of_each_class():
    targets = [0] * 130 + [1] * 64 + [2] * 10
    assert original_subsample_indices(targets) == [0, 1, 130]


def test_original_transform_is_timm_eval_at_crop_pct_0875():
    resize = original_analysis_transform(192).transforms[0]
    assert list(resize.size) == [219] and resize.interpolation.value == "bilinear"  # timm's default
    assert list(original_analysis_transform(224).transforms[0].size) == [256]


def test_original_selection_on_digits():
    images = load_analysis_images("digits", num_images=4, img_size=64, split="train", analysis_transform="original")
    # digits train has more than 64 images per class: the first two of class 0, then the first two of class 1.
    assert images.labels.tolist() == [0, 0, 1, 1] and images.images.shape == (4, 3, 64, 64)
    with pytest.raises(ValueError, match="1/64 subsample"):
        load_analysis_images("digits", num_images=4, img_size=64, split="val", analysis_transform="original")


def test_image_blind_floor_scores_the_training_mean():
    mean = training_mean_image("digits", img_size=64, num_images=32)
    assert mean.shape == (3, 64, 64)
    images = load_analysis_images("digits", num_images=3, img_size=64).images
    mask = torch.ones(3, 4, 4, dtype=torch.int64)
    floor = image_blind_reconstruction(mean, images, mask)
    assert floor.metrics["psnr_full"].shape == (3,)
    # A perfect prediction of the first image beats the floor on it.
    assert float(floor.metrics["psnr_full"][0]) < 100.0
    assert set(floor.original_metrics) == {"psnr_full", "ssim_full"}
