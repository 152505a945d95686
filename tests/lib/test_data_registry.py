"""Dataset registry, the embedded ``digits`` set, ``synthetic``, and the missing-root errors."""
import numpy as np
import pytest
from PIL import Image

from kamim_lib.data import DigitsDataset, build_dataset, dataset_num_classes, list_datasets
from kamim_lib.data.digits import _load_digits_arrays

ROOTED = ["cifar10", "cifar100", "imagefolder", "imagenet", "imagenette", "inaturalist", "places365"]


def test_registry_lists_every_data_set():
    assert list_datasets() == sorted(ROOTED + ["digits", "photo_crops", "synthetic", "textured_digits"])


@pytest.mark.parametrize("name, count", [("digits", 10), ("cifar10", 10), ("cifar100", 100), ("imagenet", 1000),
                                         ("imagenette", 10), ("places365", 365), ("inaturalist", 10000),
                                         ("synthetic", 10)])
def test_class_counts(name, count):
    assert dataset_num_classes(name) == count


def test_class_counts_that_depend_on_options():
    assert dataset_num_classes("synthetic", num_classes=3) == 3
    assert dataset_num_classes("inaturalist", train_version="2019") == 1010
    with pytest.raises(ValueError, match="root"):
        dataset_num_classes("imagefolder")


def test_digits_split_sizes_are_disjoint_and_cover_the_set():
    train, val = DigitsDataset(split="train"), DigitsDataset(split="val")
    assert (len(train), len(val)) == (1442, 355)
    assert set(train.source_indices).isdisjoint(val.source_indices)
    assert len(set(train.source_indices) | set(val.source_indices)) == 1797
    # every 5th sample of each class is a validation sample: each class keeps ~20% in val
    counts_val = np.bincount(val.targets, minlength=10)
    counts_all = np.bincount(train.targets, minlength=10) + counts_val
    np.testing.assert_array_equal(counts_val, counts_all // 5)


def test_digits_are_deterministic_and_real():
    first, second = build_dataset("digits", split="val"), build_dataset("digits", split="val")
    np.testing.assert_array_equal(first.images, second.images)
    assert first.targets == second.targets
    image, label = first[0]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (32, 32)
    assert isinstance(label, int) and 0 <= label <= 9
    # at the native 8 px the pixels are exactly round(v * 255 / 16) of scikit-learn's copy
    native = build_dataset("digits", split="val", image_size=8)
    values, labels = _load_digits_arrays()
    source = native.source_indices[3]
    np.testing.assert_array_equal(np.asarray(native[3][0])[..., 1], np.rint(values[source] * 255 / 16))
    assert native[3][1] == labels[source]


def test_digits_transform_is_applied():
    dataset = build_dataset("digits", transform=lambda image: image.size)
    assert dataset[5][0] == (32, 32)


def test_synthetic_is_deterministic_per_index_and_split():
    train = build_dataset("synthetic", num_samples=5, image_size=16, num_classes=3, seed=7)
    again = build_dataset("synthetic", num_samples=5, image_size=16, num_classes=3, seed=7)
    val = build_dataset("synthetic", split="val", num_samples=5, image_size=16, num_classes=3, seed=7)
    assert len(train) == 5 and train[2][0].size == (16, 16)
    for index in range(5):
        assert np.array_equal(np.asarray(train[index][0]), np.asarray(again[index][0]))
        assert train[index][1] == again[index][1] and 0 <= train[index][1] < 3
    assert not np.array_equal(np.asarray(train[0][0]), np.asarray(val[0][0]))


@pytest.mark.parametrize("name", ROOTED)
def test_a_missing_root_says_how_to_provide_one(name):
    with pytest.raises(ValueError, match="data_root") as caught:
        build_dataset(name)
    assert "Expected layout" in str(caught.value)


@pytest.mark.parametrize("name", ROOTED)
def test_a_nonexistent_root_names_the_path(name, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as caught:
        build_dataset(name, root=missing, split="val")
    assert str(missing) in str(caught.value) and "data_root" in str(caught.value)
    assert not missing.exists()  # nothing was created while looking


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="dataset='mnist'"):
        build_dataset("mnist")
    with pytest.raises(ValueError, match="split='test'"):
        build_dataset("digits", split="test")
    with pytest.raises(ValueError, match="on_corrupt"):
        build_dataset("digits", on_corrupt="ignore")
    with pytest.raises(ValueError, match="image_szie"):
        build_dataset("digits", image_szie=16)
    with pytest.raises(ValueError, match="image_size"):
        build_dataset("digits", image_size=4)
