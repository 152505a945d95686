"""The ring stamp is what cv2.drawKeypoints draws (then binarised), and draw_rings reproduces whole drawings."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kamim_lib.keypoints import RING_RADIUS, RING_STAMP_9X9, draw_keypoints_opencv, draw_rings, ring_stamp


def _original_drawing(points_xy, height, width) -> np.ndarray:
    """The original code's drawing: drawKeypoints on black, colour (255, 0, 0), channel 0, sign."""
    keypoints = [cv2.KeyPoint(float(x), float(y), 7.0) for x, y in points_xy]
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    return np.sign(cv2.drawKeypoints(canvas, keypoints, None, color=(255, 0, 0))[:, :, 0]) > 0


def test_stamp_is_read_back_from_opencv():
    drawn = _original_drawing([(10, 10)], 21, 21)
    window = drawn[10 - RING_RADIUS:10 + RING_RADIUS + 1, 10 - RING_RADIUS:10 + RING_RADIUS + 1]
    assert np.array_equal(window, np.array(RING_STAMP_9X9, dtype=bool))
    assert drawn.sum() == window.sum()  # nothing outside the 9x9 box


def test_stamp_has_48_pixels_and_an_unlit_centre():
    stamp = ring_stamp()
    assert stamp.shape == (9, 9) and stamp.sum() == 48
    assert stamp[4, 4] == 0 and stamp[3:6, 3:6].sum() == 0
    assert torch.equal(stamp, stamp.flip(0)) and torch.equal(stamp, stamp.flip(1)) and torch.equal(stamp, stamp.T)


def _as_points(points_xy, height, width) -> torch.Tensor:
    point_map = torch.zeros(1, height, width, dtype=torch.bool)
    for x, y in points_xy:
        point_map[0, y, x] = True
    return point_map


@pytest.mark.parametrize("height, width", [(15, 20), (7, 7), (8, 11)])
def test_draw_rings_equals_drawkeypoints_for_every_fast_position(height, width):
    """Every position at least 3 pixels from the border (where FAST can fire), rings clipped at the border.

    Closer to the border OpenCV clips its anti-aliased polyline differently (a few pixels of a ring at distance 2
    go missing); FAST never puts a keypoint there.
    """
    for y in range(3, height - 3):
        for x in range(3, width - 3):
            expected = _original_drawing([(x, y)], height, width)
            assert np.array_equal(draw_rings(_as_points([(x, y)], height, width))[0].numpy(), expected), (x, y)


@pytest.mark.parametrize("points_xy", [[(8, 8), (9, 8)], [(5, 5), (7, 9), (9, 5)], [(3, 3), (3, 4), (4, 3)]])
def test_draw_rings_equals_drawkeypoints_for_overlapping_rings(points_xy):
    expected = _original_drawing(points_xy, 15, 20)
    assert np.array_equal(draw_rings(_as_points(points_xy, 15, 20))[0].numpy(), expected)


def test_draw_rings_equals_drawkeypoints_on_dense_random_points():
    rng = np.random.default_rng(1)
    height, width = 40, 53
    for density in (0.01, 0.1, 0.5):
        mask = rng.random((height, width)) < density
        mask[:3], mask[-3:], mask[:, :3], mask[:, -3:] = False, False, False, False
        points_xy = [(int(x), int(y)) for y, x in zip(*np.nonzero(mask))]
        expected = _original_drawing(points_xy, height, width)
        assert np.array_equal(draw_rings(torch.from_numpy(mask)[None])[0].numpy(), expected)


def test_draw_rings_equals_convolution_with_stamp():
    point_map = torch.rand(3, 33, 47) < 0.05
    reference = F.conv2d(point_map.float()[:, None], ring_stamp().view(1, 1, 9, 9), padding=RING_RADIUS)[:, 0] > 0
    assert torch.equal(draw_rings(point_map), reference)
    assert draw_rings(point_map).dtype == torch.bool


def test_subpixel_keypoints_are_drawn_at_one_sixteenth_pixel():
    """drawKeypoints rounds positions to 1/16 pixel: the ring of a sub-pixel keypoint is not the stamp."""
    stamp_drawing = _original_drawing([(10, 10)], 21, 21)
    assert np.array_equal(_original_drawing([(10 + 1 / 64, 10)], 21, 21), stamp_drawing)  # rounds to 10
    half = _original_drawing([(10.5, 10)], 21, 21)
    assert not np.array_equal(half, stamp_drawing) and half.sum() > 48
    assert np.array_equal(half, draw_keypoints_opencv([cv2.KeyPoint(10.5, 10.0, 7.0)], 21, 21))


def test_draw_rings_rejects_bad_shape():
    with pytest.raises(ValueError, match="point_map"):
        draw_rings(torch.zeros(1, 1, 8, 8, dtype=torch.bool))
