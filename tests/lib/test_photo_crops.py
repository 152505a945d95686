"""The embedded photo_crops data set: deterministic windows, a fixed split, labels by photo, keypoints for every
detector."""
import numpy as np
import pytest

from kamim_lib.data import build_dataset, dataset_num_classes
from kamim_lib.data.bundled_photos import load_bundled_photo
from kamim_lib.data.photo_crops import PHOTO_CROPS_MAX_SIZE, PHOTO_NAMES, PhotoCropsDataset, window_indices
from kamim_lib.keypoints.coverage import keypoint_coverage


@pytest.fixture(scope="module")
def train():
    return PhotoCropsDataset(split="train")


@pytest.fixture(scope="module")
def val():
    return PhotoCropsDataset(split="val")


def test_split_sizes_are_fixed_and_disjoint(train, val):
    assert (len(train), len(val)) == (1440, 360)
    assert set(train.window_ids).isdisjoint(val.window_ids)
    assert len(set(train.window_ids) | set(val.window_ids)) == 1800  # 180 windows of each of the 10 photos
    assert list(window_indices("val")) == list(range(4, 180, 5))


def test_labels_are_the_source_photos_balanced_in_every_prefix(train, val):
    assert train.num_classes == 10 == dataset_num_classes("photo_crops") == len(PHOTO_NAMES)
    assert train.classes == list(PHOTO_NAMES)
    assert np.bincount(train.targets).tolist() == [144] * 10 and np.bincount(val.targets).tolist() == [36] * 10
    assert train.targets[:10] == list(range(10))  # window-major: a max_train_samples prefix has every class
    image, label = build_dataset("photo_crops", split="val")[7]
    assert image.size == (96, 96) and image.mode == "RGB" and label == val.targets[7] == 7


def test_a_window_is_a_crop_of_its_photo():
    # At image_size = the smallest photo's side, text (172 x 448) can only be cropped at full height, without
    # resizing: the window equals the photo's columns at some offset.
    full = PhotoCropsDataset(split="val", image_size=PHOTO_CROPS_MAX_SIZE)
    text = load_bundled_photo("text")
    assert min(min(load_bundled_photo(name).shape[:2]) for name in PHOTO_NAMES) == PHOTO_CROPS_MAX_SIZE == 172
    window = full.images[full.targets.index(PHOTO_NAMES.index("text"))]
    assert any(np.array_equal(window, text[:, left:left + 172]) for left in range(448 - 172 + 1))


def test_deterministic_and_seed_dependent(val):
    assert np.array_equal(val.images, PhotoCropsDataset(split="val").images)
    other = PhotoCropsDataset(split="val", seed=1)
    assert other.targets == val.targets and not np.array_equal(other.images, val.images)


def test_every_detector_finds_keypoints_on_at_least_90_percent(train):
    # Every 4th training image: 360 images, 36 of each photo (the coverage of the whole set is in the docstring).
    coverage = keypoint_coverage(train.images[::4], ["fast", "sift", "orb"])
    for detector, row in coverage.items():
        assert row["images"] == 360
        assert row["share"] >= 0.9, (detector, row)


@pytest.mark.parametrize("options, named", [({"image_size": 16}, "image_size"), ({"image_size": 173}, "image_size"),
                                            ({"image_size": 96.0}, "image_size"), ({"seed": -1}, "seed")])
def test_bad_options_are_one_clear_error(options, named):
    with pytest.raises(ValueError, match=named):
        build_dataset("photo_crops", split="val", **options)


def test_unknown_option_and_split_are_named():
    with pytest.raises(ValueError, match="does not take the option"):
        build_dataset("photo_crops", split="val", zoom=3)
    with pytest.raises(ValueError, match="split='test'"):
        PhotoCropsDataset(split="test")


def test_splits_are_cut_once_per_process_read_only_and_equal_to_a_fresh_cut(val):
    from kamim_lib.data import photo_crops

    again = PhotoCropsDataset(split="val")
    assert again.images is val.images  # the second build reuses the first one's pixels
    assert not val.images.flags.writeable  # no data set can change another's pixels
    with pytest.raises(ValueError):
        val.images[0, 0, 0, 0] = 0
    fresh, labels = photo_crops._cut_split.__wrapped__("val", 96, 0)  # uncached
    np.testing.assert_array_equal(fresh, val.images)
    assert list(labels) == val.targets
    assert not np.array_equal(PhotoCropsDataset(split="val", seed=1).images, val.images)
