import math

import pytest
import torch

from kamim_lib.weighting import density_to_weights, keypoint_density, pixel_weights


def test_density_is_fraction_of_keypoint_pixels_per_patch():
    kmap = torch.zeros(1, 1, 16, 16)
    kmap[0, 0, :8, :8] = 1            # full patch
    kmap[0, 0, 0, 8:12] = 1            # 4 of 64 pixels
    density = keypoint_density(kmap, 8)
    assert density.shape == (1, 2, 2)
    assert torch.allclose(density, torch.tensor([[[1.0, 4 / 64], [0.0, 0.0]]]))


@pytest.mark.parametrize("temperature", [0.1, 0.25, 1.0, 2.5])
def test_weights_have_min_one_and_expected_max(temperature):
    density = torch.rand(3, 24, 24) * 0.5 + 0.1
    weights = density_to_weights(density, temperature)
    assert torch.allclose(weights.amin(dim=(1, 2)), torch.ones(3))
    spread = density.amax(dim=(1, 2)) - density.amin(dim=(1, 2))
    assert torch.allclose(weights.amax(dim=(1, 2)), torch.exp(spread / temperature), rtol=1e-5)
    # monotone in density within an image
    order = density[0].flatten().argsort()
    assert torch.all(weights[0].flatten()[order].diff() >= 0)


def test_weight_bound_is_e_to_one_over_t():
    density = torch.tensor([[[0.0, 1.0]]])
    assert density_to_weights(density, 0.25)[0, 0, 1].item() == pytest.approx(math.exp(4))


def test_pixel_weights_upsample_nearest():
    weights = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    pixels = pixel_weights(weights, 8)
    assert pixels.shape == (1, 1, 16, 16)
    assert pixels[0, 0, 7, 7] == 1 and pixels[0, 0, 7, 8] == 2 and pixels[0, 0, 8, 0] == 3 and pixels[0, 0, 15, 15] == 4


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan")])
def test_non_positive_temperature_is_rejected(temperature):
    with pytest.raises(ValueError, match="temperature"):
        density_to_weights(torch.rand(1, 2, 2), temperature)


def test_patch_size_must_divide_the_image():
    with pytest.raises(ValueError, match="patch_size"):
        keypoint_density(torch.zeros(1, 1, 20, 20), 8)
