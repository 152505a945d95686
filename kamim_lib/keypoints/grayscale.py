"""RGB → grayscale exactly as OpenCV computes it, in integer torch arithmetic (any device, no OpenCV needed).

OpenCV's ``cvtColor(..., COLOR_*2GRAY)`` for uint8 images is fixed point with 15 fractional bits:

    gray = (c_B·B + c_G·G + c_R·R + 2^14) >> 15,   (c_B, c_G, c_R) = (3735, 19235, 9798),  Σc = 2^15

(0.114, 0.587, 0.299 rounded to 1/32768). Checked bit-exactly against every one of the 2^24 colours on OpenCV 4.9,
4.12 and 5.0 (``tests/test_keypoints_gray.py`` repeats the check against the installed version).

The original KAMIM code hands an RGB array to OpenCV, which takes it for BGR: its luminance is
0.114·R + 0.587·G + 0.299·B. Mode ``"faithful"`` reproduces that; mode ``"points"`` uses the correct weights.
"""
from __future__ import annotations

import torch

from kamim_lib._validation import check_choice, check_uint8_images
from kamim_lib.keypoints.choices import MAP_MODES

#: Fixed-point precision of OpenCV's uint8 grayscale conversion.
GRAY_SHIFT = 15

#: Integer weights of the (R, G, B) channels of an RGB tensor, per map mode; each triple sums to 2**GRAY_SHIFT.
GRAY_WEIGHTS: dict[str, tuple[int, int, int]] = {
    # cv2.cvtColor(rgb, COLOR_BGR2GRAY): the R channel gets the blue weight 0.114 and B gets the red weight 0.299.
    "faithful": (3735, 19235, 9798),
    # cv2.cvtColor(rgb, COLOR_RGB2GRAY): 0.299 R + 0.587 G + 0.114 B.
    "points": (9798, 19235, 3735),
}


def to_gray(images: torch.Tensor, mode: str = "faithful") -> torch.Tensor:
    """Grayscale of RGB images, bit-identical to the OpenCV conversion that ``mode`` stands for.

    Args:
        images: uint8 (B, 3, H, W), RGB, on any device.
        mode: ``"faithful"`` = ``cv2.cvtColor(rgb, COLOR_BGR2GRAY)`` (the original's quirk, R and B swapped);
            ``"points"`` = ``cv2.cvtColor(rgb, COLOR_RGB2GRAY)``.

    Returns:
        uint8 (B, H, W) on the images' device.
    """
    check_uint8_images(images)
    check_choice("mode", mode, MAP_MODES)
    weight_r, weight_g, weight_b = GRAY_WEIGHTS[mode]
    channels = images.to(torch.int32)
    # Max 255 * 2^15 + 2^14 < 2^31: int32 cannot overflow.
    weighted = channels[:, 0] * weight_r + channels[:, 1] * weight_g + channels[:, 2] * weight_b
    return torch.bitwise_right_shift(weighted + (1 << (GRAY_SHIFT - 1)), GRAY_SHIFT).to(torch.uint8)
