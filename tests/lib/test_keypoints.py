"""Keypoint maps: the torch FAST is OpenCV's FAST pixel for pixel, and the maps are the original's maps."""
import cv2
import numpy as np
import pytest
import torch

from keypoint_photos import NATURAL_PHOTOS, SYNTHETIC_IMAGES, centre_crop, load_images, resized
from kamim_lib.keypoints import (BACKENDS, DETECTORS, MAP_MODES, detect_keypoints_opencv, draw_rings,
                                 fast_contrast_torch, fast_corners_torch, keypoint_map)

# (height, width, how): resized whole photos and native-resolution crops, including odd sizes.
SIZES = [(192, 192, "resize"), (96, 96, "resize"), (100, 150, "resize"), (101, 153, "crop")]


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    natural = load_images(NATURAL_PHOTOS)
    assert len(natural) >= 15, f"only {sorted(natural)} of scikit-image's photos loaded"
    return {**natural, **load_images(SYNTHETIC_IMAGES)}


def _batch(photos, height, width, how) -> np.ndarray:
    shape = resized if how == "resize" else centre_crop
    return np.stack([shape(image, height, width) for image in photos.values()])


def _to_tensor(rgb_batch: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb_batch).permute(0, 3, 1, 2).contiguous()


def _opencv_fast_pixels(gray: np.ndarray, threshold: int, nonmax: bool) -> np.ndarray:
    """bool (H, W): True at the pixels of cv2.FAST's keypoints (always integer for FAST)."""
    keypoints = cv2.FastFeatureDetector_create(threshold, nonmax).detect(gray, None)
    pixels = np.zeros(gray.shape, dtype=bool)
    for keypoint in keypoints:
        x, y = keypoint.pt
        assert x == int(x) and y == int(y)
        pixels[int(y), int(x)] = True
    assert pixels.sum() == len(keypoints)
    return pixels


@pytest.mark.parametrize("height, width, how", SIZES)
def test_torch_fast_equals_opencv_on_every_photo(photos, height, width, how):
    rgb = _batch(photos, height, width, how)
    gray = np.stack([cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in rgb])
    for threshold in (10, 25):
        for nonmax in (True, False):
            got = fast_corners_torch(torch.from_numpy(gray), threshold, nonmax).numpy()
            assert got.dtype == bool and got.shape == gray.shape
            for name, image_gray, image_got in zip(photos, gray, got):
                expected = _opencv_fast_pixels(image_gray, threshold, nonmax)
                assert np.array_equal(image_got, expected), (name, threshold, nonmax)
            assert got.sum() > 10 * len(photos)  # the comparison is not between empty maps


def _stress_images(rng):
    """Noise, 0/255 patterns, few-level images with score ties, and sizes around the 7-pixel minimum."""
    for index in range(90):
        height, width = (int(v) for v in rng.integers(1, 36, size=2))
        kind = index % 3
        if kind == 0:
            yield rng.integers(0, 256, (height, width), dtype=np.uint8)
        elif kind == 1:
            yield (rng.integers(0, 2, (height, width)) * 255).astype(np.uint8)
        else:
            yield (rng.integers(0, 4, (height, width)) * int(rng.integers(1, 80))).astype(np.uint8)


def test_torch_fast_equals_opencv_on_stress_images():
    rng = np.random.default_rng(0)
    for gray in _stress_images(rng):
        for threshold in (0, 1, 10, 100, 254, 255):
            for nonmax in (True, False):
                got = fast_corners_torch(torch.from_numpy(gray)[None], threshold, nonmax)[0].numpy()
                assert np.array_equal(got, _opencv_fast_pixels(gray, threshold, nonmax)), (gray.shape, threshold)


def test_fast_contrast_minus_one_is_opencv_corner_score(photos):
    rgb = _batch(photos, 96, 96, "resize")
    gray = np.stack([cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in rgb])
    contrast = fast_contrast_torch(torch.from_numpy(gray)).numpy().astype(int)
    for image_gray, image_contrast in zip(gray, contrast):
        for keypoint in cv2.FastFeatureDetector_create(10, True).detect(image_gray, None):
            x, y = (int(v) for v in keypoint.pt)
            assert image_contrast[y, x] - 1 == keypoint.response
        assert np.all(image_contrast[:3] == 0) and np.all(image_contrast[:, -3:] == 0)


def _original_map(rgb: np.ndarray, detector: str) -> np.ndarray:
    """The original KAMIM code, verbatim in effect: detect on the RGB array, drawKeypoints, channel 0, sign."""
    create = {"fast": cv2.FastFeatureDetector_create, "sift": cv2.SIFT_create, "orb": cv2.ORB_create}[detector]
    keypoints = create().detect(rgb, None)
    feat = cv2.drawKeypoints(np.zeros_like(rgb), keypoints, None, color=(255, 0, 0))[:, :, 0]
    return np.sign(feat).astype(np.float32)


@pytest.mark.parametrize("height, width, how", [(192, 192, "resize"), (101, 153, "crop")])
def test_faithful_fast_map_is_the_original_map_on_both_backends(photos, height, width, how):
    rgb = _batch(photos, height, width, how)
    images = _to_tensor(rgb)
    opencv_map = keypoint_map(images, "fast", "faithful", "opencv")
    torch_map = keypoint_map(images, "fast", "faithful", "torch")
    assert opencv_map.shape == (len(rgb), 1, height, width) and opencv_map.dtype == torch.float32
    assert torch.equal(torch_map, opencv_map)
    for index, image in enumerate(rgb):
        assert np.array_equal(opencv_map[index, 0].numpy(), _original_map(image, "fast"))


@pytest.mark.parametrize("detector", ["sift", "orb"])
def test_faithful_sift_and_orb_maps_are_the_original_maps(photos, detector):
    rgb = _batch(dict(list(photos.items())[:6]), 192, 192, "resize")
    maps = keypoint_map(_to_tensor(rgb), detector, "faithful")
    assert set(maps.unique().tolist()) == {0.0, 1.0}
    for index, image in enumerate(rgb):
        assert np.array_equal(maps[index, 0].numpy(), _original_map(image, detector))


@pytest.mark.parametrize("settings", [{"threshold": 25}, {"nonmax": False}, {"threshold": 5, "nonmax": False}])
@pytest.mark.parametrize("mode", MAP_MODES)
def test_torch_and_opencv_maps_agree_for_every_setting(photos, settings, mode):
    images = _to_tensor(_batch(photos, 96, 96, "resize"))
    opencv_map = keypoint_map(images, "fast", mode, "opencv", **settings)
    assert torch.equal(keypoint_map(images, "fast", mode, "torch", **settings), opencv_map)
    assert not torch.equal(opencv_map, keypoint_map(images, "fast", mode, "opencv"))  # the setting took effect


@pytest.mark.parametrize("detector", DETECTORS)
def test_points_mode_lights_exactly_the_keypoint_pixels(photos, detector):
    rgb = _batch(dict(list(photos.items())[:6]), 96, 128, "resize")
    maps = keypoint_map(_to_tensor(rgb), detector, "points")
    for index, image in enumerate(rgb):
        # points mode: correct RGB weights (COLOR_RGB2GRAY), keypoints rounded to the nearest pixel.
        xy = detect_keypoints_opencv(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), detector)
        expected = np.zeros((96, 128), dtype=np.float32)
        rows, columns = (np.floor(xy[:, axis] + 0.5).astype(int).clip(0, side - 1) for axis, side in ((1, 96), (0, 128)))
        expected[rows, columns] = 1
        assert len(xy) > 0 and np.array_equal(maps[index, 0].numpy(), expected)
    if detector == "fast":
        assert torch.equal(keypoint_map(_to_tensor(rgb), detector, "points", "torch"), maps)


def test_faithful_map_is_rings_around_points_of_the_swapped_image(photos):
    """Faithful = rings around the points found on the BGR-read gray, i.e. on the RGB->BGR swapped image."""
    images = _to_tensor(_batch(photos, 96, 96, "resize"))
    points_of_swapped = keypoint_map(images.flip(1), "fast", "points", "opencv")[:, 0]
    assert torch.equal(keypoint_map(images, "fast", "faithful", "opencv")[:, 0], draw_rings(points_of_swapped).float())


def test_detector_settings_change_the_detection(photos):
    images = _to_tensor(_batch(dict(list(photos.items())[:4]), 192, 192, "resize"))
    assert keypoint_map(images, "fast", "points", threshold=40).sum() < keypoint_map(images, "fast", "points").sum()
    few = keypoint_map(images, "orb", "points", nfeatures=20)
    assert 0 < few.sum() <= 4 * 20 < keypoint_map(images, "orb", "points").sum()
    assert keypoint_map(images, "sift", "points", nfeatures=10).flatten(1).sum(1).le(10).all()


def test_maps_keep_device_dtype_and_shape():
    images = torch.randint(0, 256, (3, 3, 24, 40), dtype=torch.uint8)
    for backend in BACKENDS:
        kmap = keypoint_map(images, backend=backend)
        assert kmap.shape == (3, 1, 24, 40) and kmap.dtype == torch.float32 and kmap.device == images.device
    tiny = torch.randint(0, 256, (2, 3, 6, 5), dtype=torch.uint8)  # too small for a FAST circle
    assert keypoint_map(tiny, backend="torch").sum() == 0 == keypoint_map(tiny).sum()
    assert keypoint_map(torch.zeros(0, 3, 16, 16, dtype=torch.uint8), backend="torch").shape == (0, 1, 16, 16)


def test_cpu_chunking_does_not_change_the_result():
    gray = torch.randint(0, 256, (7, 30, 31), dtype=torch.uint8)
    whole = fast_corners_torch(gray, chunk_size=7)
    for chunk_size in (1, 3, None):
        assert torch.equal(fast_corners_torch(gray, chunk_size=chunk_size), whole)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_torch_backend_on_cuda_equals_opencv(photos):
    images = _to_tensor(_batch(photos, 192, 192, "resize"))
    for mode in MAP_MODES:
        on_gpu = keypoint_map(images.cuda(), "fast", mode, "torch")
        assert on_gpu.is_cuda and torch.equal(on_gpu.cpu(), keypoint_map(images, "fast", mode, "opencv"))


U8 = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)


@pytest.mark.parametrize("call, names", [
    (lambda: keypoint_map(U8.float()), "images"),
    (lambda: keypoint_map(torch.zeros(1, 4, 16, 16, dtype=torch.uint8)), "images"),
    (lambda: keypoint_map(U8[0]), "images"),
    (lambda: keypoint_map(U8.numpy()), "images"),
    (lambda: keypoint_map(U8, detector="harris"), "detector"),
    (lambda: keypoint_map(U8, mode="rings"), "mode"),
    (lambda: keypoint_map(U8, backend="cuda"), "backend"),
    (lambda: keypoint_map(U8, detector="sift", backend="torch"), "detector"),
    (lambda: keypoint_map(U8, detector="orb", backend="torch"), "backend"),
    (lambda: keypoint_map(U8, threshold=-1), "threshold"),
    (lambda: keypoint_map(U8, threshold=256, backend="torch"), "threshold"),
    (lambda: keypoint_map(U8, threshold=10.5), "threshold"),
    (lambda: keypoint_map(U8, threshold=True), "threshold"),
    (lambda: keypoint_map(U8, nonmax="yes"), "nonmax"),
    (lambda: keypoint_map(U8, fast_type="8_12"), "fast_type"),
    (lambda: keypoint_map(U8, fast_type="7_12", backend="torch"), "fast_type"),
    (lambda: keypoint_map(U8, thresold=10), "thresold"),
    (lambda: keypoint_map(U8, detector="sift", threshold=10), "threshold"),
    (lambda: keypoint_map(U8, detector="orb", nlevels=0), "nlevels"),
    (lambda: keypoint_map(U8, detector="sift", sigma=-1.0), "sigma"),
    (lambda: fast_corners_torch(U8[:, 0].float()), "gray"),
    (lambda: fast_corners_torch(U8), "gray"),
    (lambda: fast_corners_torch(U8[:, 0], chunk_size=0), "chunk_size"),
    (lambda: detect_keypoints_opencv(U8[0, 0], "fast"), "gray"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, names):
    with pytest.raises(ValueError, match=names):
        call()


def test_opencv_fast_types_other_than_9_16_run():
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 3, 32, 32), dtype=np.uint8))
    assert keypoint_map(images, fast_type="7_12").sum() > 0 and keypoint_map(images, fast_type="5_8").sum() > 0
