"""Grayscale conversion: bit-exact against OpenCV for all 2^24 colours, and the original's BGR quirk."""
import cv2
import numpy as np
import pytest
import torch

from kamim_lib.keypoints import GRAY_SHIFT, GRAY_WEIGHTS, to_gray

OPENCV_CODES = {"faithful": cv2.COLOR_BGR2GRAY, "points": cv2.COLOR_RGB2GRAY}


def _every_colour() -> np.ndarray:
    """uint8 (4096, 4096, 3) holding each of the 2^24 RGB colours once."""
    code = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([code >> 16, (code >> 8) & 255, code & 255], axis=-1).astype(np.uint8)
    return rgb.reshape(4096, 4096, 3)


@pytest.mark.parametrize("mode", ["faithful", "points"])
def test_to_gray_equals_opencv_for_every_colour(mode):
    rgb = _every_colour()
    expected = cv2.cvtColor(rgb, OPENCV_CODES[mode])
    got = to_gray(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0), mode)
    assert got.dtype == torch.uint8 and got.shape == (1, 4096, 4096)
    assert np.array_equal(got[0].numpy(), expected)


def test_weights_sum_to_one_in_fixed_point():
    for weights in GRAY_WEIGHTS.values():
        assert sum(weights) == 1 << GRAY_SHIFT


# OpenCV's Q15 rounding of the two weights times 255: 0.114 * 255 = 29.07 -> 29, 0.299 * 255 = 76.245 -> 76.
GRAY_OF_FULL_CHANNEL = {0.114: 29, 0.299: 76}


@pytest.mark.parametrize("channel, faithful_weight, points_weight", [(0, 0.114, 0.299), (2, 0.299, 0.114)])
def test_bgr_quirk_swaps_red_and_blue(channel, faithful_weight, points_weight):
    """Pure red (channel 0) / pure blue (channel 2): faithful mode weighs R by 0.114 and B by 0.299."""
    image = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    image[:, channel] = 255
    faithful = to_gray(image, "faithful")
    points = to_gray(image, "points")
    assert torch.all(faithful == GRAY_OF_FULL_CHANNEL[faithful_weight])
    assert torch.all(points == GRAY_OF_FULL_CHANNEL[points_weight])
    assert np.array_equal(faithful[0].numpy(), cv2.cvtColor(image[0].permute(1, 2, 0).numpy(), cv2.COLOR_BGR2GRAY))


def test_faithful_gray_is_correct_gray_of_swapped_channels():
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.integers(0, 256, (2, 3, 16, 16), dtype=np.uint8))
    assert torch.equal(to_gray(image, "faithful"), to_gray(image.flip(1), "points"))
    assert not torch.equal(to_gray(image, "faithful"), to_gray(image, "points"))


def test_to_gray_rejects_bad_input():
    with pytest.raises(ValueError, match="images"):
        to_gray(torch.zeros(1, 3, 4, 4), "faithful")
    with pytest.raises(ValueError, match="images"):
        to_gray(torch.zeros(1, 4, 4, 4, dtype=torch.uint8), "faithful")
    with pytest.raises(ValueError, match="mode"):
        to_gray(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), "bgr")
