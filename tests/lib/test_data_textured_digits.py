"""The embedded textured_digits data set: deterministic, labelled like digits, keypoints for every detector."""
import numpy as np
import pytest

from kamim_lib.data import build_dataset, dataset_num_classes
from kamim_lib.data.digits import DigitsDataset
from kamim_lib.data.textured_digits import TexturedDigitsDataset, composite_digit, composite_split, keypoint_coverage


@pytest.fixture(scope="module")
def val():
    return TexturedDigitsDataset(split="val")


def test_split_sizes_labels_and_registry(val):
    assert len(val) == 355 and val.num_classes == 10 == dataset_num_classes("textured_digits")
    assert val.targets == DigitsDataset(split="val").targets  # the digits' labels and split
    image, label = build_dataset("textured_digits", split="val")[3]
    assert image.size == (96, 96) and image.mode == "RGB" and label == val.targets[3]


def test_deterministic_and_seed_dependent(val):
    # composite_split composes afresh (the data set reuses one process-wide copy): two independent compositions agree
    again, labels, keep = composite_split("val", 96, 0)
    assert np.array_equal(val.images, again) and val.targets == labels[keep].tolist()
    other = TexturedDigitsDataset(split="val", seed=1)
    assert not np.array_equal(val.images, other.images)


def test_the_shared_copy_is_read_only(val):
    assert TexturedDigitsDataset(split="val").images is val.images  # composed once per process
    with pytest.raises(ValueError, match="read-only"):
        val.images[0, 0, 0, 0] = 1


def test_composite_draws_the_digit_in_contrasting_ink():
    digit = np.zeros((8, 8)); digit[2:6, 3:5] = 16.0  # a bar of full ink
    dark_photo = np.full((200, 200, 3), 20, dtype=np.uint8)
    image = composite_digit(digit, dark_photo, 96, np.random.default_rng(0))
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    assert image.max() == 255  # white ink on a dark background
    assert np.median(image) == 20  # the background elsewhere is untouched (flat photo: contrast change is a no-op)


def test_every_detector_finds_keypoints_on_at_least_90_percent(val):
    coverage = keypoint_coverage(val.images[:120], ["fast", "sift", "orb"])
    for detector, row in coverage.items():
        assert row["images"] == 120
        assert row["share"] >= 0.9, (detector, row)


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="image_size"):
        TexturedDigitsDataset(image_size=16)
    with pytest.raises(ValueError, match="seed"):
        TexturedDigitsDataset(seed=-1)
