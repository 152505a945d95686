"""Robust image decoding (every mode -> 8-bit RGB) and the corrupt-file policy of folder data sets."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from data_fixtures import write_image_tree, write_png_16bit_grey, write_truncated_jpeg
from kamim_lib.data import (CorruptImageError, CorruptImageWarning, SkipCorruptImages, build_dataset,
                            load_rgb_image, to_rgb)
from kamim_lib.data.corrupt import MAX_CONSECUTIVE_CORRUPT


def _pixel(image):
    assert image.mode == "RGB"
    return image.getpixel((0, 0))


@pytest.fixture
def tree(tmp_path):
    return write_image_tree(tmp_path)


@pytest.mark.parametrize("kind, expected", [
    ("rgb_png", (1, 2, 3)),
    ("grey_png", (77, 77, 77)),
    ("rgba_png", (10, 20, 30)),       # alpha dropped: the stored colour of a fully transparent pixel survives
    ("palette_png", (40, 90, 160)),   # palette entry 1; the transparency entry (0) is not used by the pixels
    ("grey16_png", (99, 99, 99)),     # 257 * 99 on 16 bits is 99 on 8 bits
])
def test_lossless_modes_decode_to_exact_rgb(tree, kind, expected):
    assert _pixel(load_rgb_image(tree[kind])) == expected


def test_16_bit_png_is_opened_as_16_bit_and_rescaled_not_clipped(tmp_path):
    values = np.arange(256, dtype=np.int64).reshape(16, 16) * 257  # every 8-bit level, as 16-bit
    path = tmp_path / "ramp.png"
    write_png_16bit_grey(path, values)
    assert Image.open(path).mode.startswith("I")  # really a 16-bit file
    rgb = np.asarray(load_rgb_image(path))
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 16, 3)
    np.testing.assert_array_equal(rgb[..., 0], values // 257)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_wide_integer_and_float_modes_in_memory():
    wide = Image.fromarray(np.array([[0, 32768, 65535, 70000, -5]], dtype=np.int32))
    assert wide.mode == "I"
    assert np.asarray(to_rgb(wide))[0, :, 0].tolist() == [0, 128, 255, 255, 0]
    floats = Image.fromarray(np.array([[-3.0, 0.4, 127.6, 300.0]], dtype=np.float32))
    assert np.asarray(to_rgb(floats))[0, :, 1].tolist() == [0, 0, 128, 255]


def test_cmyk_jpeg_decodes_to_close_rgb(tree):
    assert Image.open(tree["cmyk_jpeg"]).mode == "CMYK"
    pixel = np.array(_pixel(load_rgb_image(tree["cmyk_jpeg"])), dtype=int)
    assert np.abs(pixel - np.array([200, 100, 50])).max() <= 6  # JPEG is lossy; the colour must survive


def test_rgb_jpeg_returns_rgb_without_alpha_or_palette_leftovers(tree):
    image = load_rgb_image(tree["rgb_jpeg"])
    assert image.size == (12, 10) and np.abs(np.array(_pixel(image)) - [10, 200, 30]).max() <= 3


@pytest.mark.parametrize("kind", ["truncated_jpeg", "not_an_image"])
def test_corrupt_files_raise_an_error_naming_the_path(tree, kind):
    with pytest.raises(CorruptImageError) as caught:
        load_rgb_image(tree[kind])
    assert str(tree[kind]) in str(caught.value) and caught.value.path == str(tree[kind])
    assert caught.value.__cause__ is not None  # Pillow's own error is chained, not lost


def test_missing_file_is_reported_like_a_corrupt_one(tmp_path):
    with pytest.raises(CorruptImageError, match="gone.jpg"):
        load_rgb_image(tmp_path / "gone.jpg")


def test_skip_policy_keeps_the_length_and_substitutes_the_next_sample(tree, tmp_path):
    dataset = build_dataset("imagefolder", root=tmp_path, split="train", on_corrupt="skip")
    paths = [path for path, _ in dataset.samples]
    assert len(dataset) == 9  # the two unreadable files still count: batch shapes are planned on this length
    bad = paths.index(tree["truncated_jpeg"])
    with pytest.warns(CorruptImageWarning, match=str(tree["truncated_jpeg"])):
        image, label = dataset[bad]
    next_image, next_label = dataset[bad + 1]
    assert label == next_label and np.array_equal(np.asarray(image), np.asarray(next_image))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second access must not warn again for the same file
        assert dataset[bad][1] == next_label


def test_skip_policy_wraps_around_at_the_end(tmp_path):
    (tmp_path / "train/a").mkdir(parents=True)
    Image.new("RGB", (4, 4), (7, 7, 7)).save(tmp_path / "train/a/1.png")
    write_truncated_jpeg(tmp_path / "train/a/2.jpg")
    dataset = build_dataset("imagefolder", root=tmp_path, split="train")
    with pytest.warns(CorruptImageWarning):
        assert _pixel(dataset[1][0]) == (7, 7, 7)


def test_error_policy_raises_with_the_path(tree, tmp_path):
    dataset = build_dataset("imagefolder", root=tmp_path, split="train", on_corrupt="error")
    index = [path for path, _ in dataset.samples].index(tree["not_an_image"])
    with pytest.raises(CorruptImageError, match=str(tree["not_an_image"])):
        dataset[index]


def test_error_policy_reaches_the_main_process_from_a_worker(tree, tmp_path):
    dataset = build_dataset("imagefolder", root=tmp_path, split="train", on_corrupt="error",
                            transform=lambda image: torch.zeros(1))
    with pytest.raises(CorruptImageError, match="d_truncated.jpg"):
        list(DataLoader(dataset, batch_size=9, num_workers=1))


def test_skip_policy_gives_static_batches_through_a_loader(tree, tmp_path):
    from kamim_lib.data import build_eval_transform

    dataset = build_dataset("imagefolder", root=tmp_path, split="train", transform=build_eval_transform(8))
    with pytest.warns(CorruptImageWarning):
        batches = list(DataLoader(dataset, batch_size=4, drop_last=True))
    assert [tuple(images.shape) for images, _ in batches] == [(4, 3, 8, 8)] * 2


def test_a_broken_data_set_stops_with_an_error(tmp_path):
    (tmp_path / "train/a").mkdir(parents=True)
    for index in range(3):
        (tmp_path / f"train/a/{index}.png").write_bytes(b"\x89PNG broken")
    dataset = build_dataset("imagefolder", root=tmp_path, split="train")
    with pytest.warns(CorruptImageWarning), pytest.raises(CorruptImageError, match="3 consecutive unreadable"):
        dataset[0]
    assert MAX_CONSECUTIVE_CORRUPT >= 3


def test_wrapper_rejects_an_unknown_policy():
    with pytest.raises(ValueError, match="on_corrupt"):
        SkipCorruptImages([], on_corrupt="ignore")
