"""CIFAR-10/100 read through torchvision from pickle batches written exactly like the official ones."""
import pickle

import numpy as np
import pytest
from torchvision import datasets

from data_fixtures import patch_cifar_md5, write_cifar10, write_cifar100
from kamim_lib.data import build_dataset


@pytest.fixture
def cifar10(tmp_path, monkeypatch):
    written = write_cifar10(tmp_path)
    patch_cifar_md5(monkeypatch, datasets.CIFAR10, written["md5"])
    return tmp_path, written


@pytest.fixture
def cifar100(tmp_path, monkeypatch):
    written = write_cifar100(tmp_path)
    patch_cifar_md5(monkeypatch, datasets.CIFAR100, written["md5"])
    return tmp_path, written


def test_fixture_has_the_official_pickle_format(cifar10, cifar100):
    root, _ = cifar10
    with open(root / "cifar-10-batches-py/data_batch_1", "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")  # the recipe of the CIFAR page
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (3, 3072)
    with open(cifar100[0] / "cifar-100-python/meta", "rb") as handle:
        assert set(pickle.load(handle, encoding="bytes")) == {b"fine_label_names", b"coarse_label_names"}


def test_cifar10_train_and_val_pixels_and_labels(cifar10):
    root, written = cifar10
    train = build_dataset("cifar10", root=root, split="train")
    val = build_dataset("cifar10", root=root, split="val")
    assert (len(train), len(val), train.num_classes) == (15, 4, 10)
    assert train.classes[3] == "cat"
    for index in (0, 7, 14):
        image, label = train[index]
        assert image.mode == "RGB" and image.size == (32, 32)
        np.testing.assert_array_equal(np.asarray(image), written["train_images"][index])
        assert label == written["train_labels"][index]
    np.testing.assert_array_equal(np.asarray(val[3][0]), written["test_images"][3])


def test_cifar_root_may_be_the_batch_folder_itself(cifar10):
    root, _ = cifar10
    assert len(build_dataset("cifar10", root=root / "cifar-10-batches-py", split="val")) == 4


def test_cifar100_uses_fine_labels(cifar100):
    root, written = cifar100
    train = build_dataset("cifar100", root=root, split="train", transform=lambda image: np.asarray(image))
    assert (len(train), train.num_classes) == (6, 100)
    assert [train[i][1] for i in range(6)] == written["train_labels"]
    np.testing.assert_array_equal(train[2][0], written["train_images"][2])


def test_files_that_fail_the_md5_check_give_a_clear_error(tmp_path):
    write_cifar10(tmp_path)  # md5 lists not patched: torchvision compares with the official archive
    with pytest.raises(ValueError, match="integrity") as caught:
        build_dataset("cifar10", root=tmp_path)
    assert "cifar-10-batches-py" in str(caught.value)


def test_a_root_without_the_batch_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        build_dataset("cifar100", root=tmp_path)
