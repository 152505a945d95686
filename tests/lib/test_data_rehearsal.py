"""Rehearsal data (kamim_lib.data.rehearsal): the ImageNet-1K and Imagenette2-160 layouts, read back through the
data registry as the paper profile reads them."""
from __future__ import annotations

from collections import Counter

import pytest

from kamim_lib.data import build_dataset, dataset_num_classes
from kamim_lib.data.rehearsal import (IMAGENETTE2_VAL_COUNTS, imagenet_wnids, write_imagenette_rehearsal,
                                      write_rehearsal_data)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    return write_rehearsal_data(tmp_path_factory.mktemp("rehearsal"))


def test_imagenet_layout_loads_with_the_real_class_folders(rehearsal):
    root = rehearsal.imagenet.root
    assert root.name == "imagenet" and rehearsal.imagenet.images == {"train": 2000, "val": 1000}
    train = build_dataset("imagenet", root=root, split="train")
    val = build_dataset("imagenet", root=root, split="val")
    assert dataset_num_classes("imagenet", root) == 1000
    wnids = imagenet_wnids()
    assert len(set(wnids)) == 1000 and wnids[0] == "n01440764" and wnids == sorted(wnids)
    assert train.classes == wnids  # folder order = ImageNet's class indices
    assert len(train) == 2000 and Counter(train.targets) == Counter({label: 2 for label in range(1000)})
    assert len(val) == 1000 and sorted(val.targets) == list(range(1000))
    image, label = val[999]
    assert label == 999 and image.mode == "RGB" and 96 <= max(image.size) <= 128
    assert val.samples[0][0].name == "ILSVRC2012_val_00000001.JPEG"
    assert train.samples[0][0].name == "n01440764_0.JPEG"


def test_imagenette_val_has_the_real_class_counts(rehearsal):
    root = rehearsal.imagenette.root
    assert root.name == "imagenette2-160"
    val = build_dataset("imagenette", root=root, split="val")
    assert len(val) == 3925 == rehearsal.imagenette.images["val"]
    assert [val.targets.count(label) for label in range(10)] == list(IMAGENETTE2_VAL_COUNTS.values())
    assert val.classes == sorted(IMAGENETTE2_VAL_COUNTS)
    # The original's per-class 1/64 subsample: floor(n_c / 64) = 6 per class except 5 of cassette player's 357.
    assert sum(val.targets.count(label) // 64 for label in range(10)) == 59
    image, _ = val[len(val) - 1]
    assert min(image.size) == 160  # imagenette2-160: shorter side 160
    train = build_dataset("imagenette", root=root, split="train")
    assert len(train) == 20 and train.classes == val.classes


def test_rehearsal_timing_and_size_are_reported(rehearsal):
    assert rehearsal.seconds > 0
    assert 0 < rehearsal.imagenet.bytes < 20e6 and 0 < rehearsal.imagenette.bytes < 40e6


def test_refuses_to_write_over_existing_files(rehearsal, tmp_path):
    with pytest.raises(ValueError, match="already exists and is not an empty folder"):
        write_rehearsal_data(rehearsal.imagenet.root.parent)
    (tmp_path / "imagenet").mkdir()
    (tmp_path / "imagenet" / "note.txt").write_text("mine")
    with pytest.raises(ValueError, match="imagenet"):
        write_rehearsal_data(tmp_path)
    assert not (tmp_path / "imagenette2-160").exists()  # nothing written before the check


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="imagenet_train_per_class must be an int >= 1"):
        write_rehearsal_data(tmp_path, imagenet_train_per_class=0)
    with pytest.raises(ValueError, match="val_counts must name exactly the Imagenette classes"):
        write_imagenette_rehearsal(tmp_path / "x", val_counts={"n01440764": 3})
    counts = {**IMAGENETTE2_VAL_COUNTS, "n01440764": -1}
    with pytest.raises(ValueError, match=r"val_counts\['n01440764'\] must be an int >= 1"):
        write_imagenette_rehearsal(tmp_path / "y", val_counts=counts)
