"""Class-per-folder data sets, iNaturalist and Places365 on tiny trees in their real layouts."""
import numpy as np
import pytest
from PIL import Image
from torchvision import datasets

from data_fixtures import md5, write_image_tree
from kamim_lib.data import build_dataset, dataset_num_classes


def _save(path, colour=(10, 20, 30), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (6, 5), colour).save(path)


def test_imagefolder_reads_every_mode_as_rgb_with_sorted_labels(tmp_path):
    write_image_tree(tmp_path)
    train = build_dataset("imagefolder", root=tmp_path, split="train")
    assert train.classes == ["cat", "dog"] and train.num_classes == 2
    assert train.targets == [0] * 5 + [1] * 4
    assert [path.name for path, _ in train.samples][:2] == ["a_rgb.jpg", "b_grey.png"]
    val = build_dataset("imagefolder", root=tmp_path, split="val", transform=np.asarray)
    assert [val[i][0].shape for i in range(len(val))] == [(10, 12, 3)] * 2
    assert dataset_num_classes("imagefolder", root=tmp_path) == 2


def test_val_labels_follow_the_train_classes_even_when_val_lacks_one(tmp_path):
    for name in ("ant", "bee", "cow"):
        _save(tmp_path / f"train/{name}/1.png")
    _save(tmp_path / "val/cow/1.png")
    val = build_dataset("imagefolder", root=tmp_path, split="val")
    assert len(val) == 1 and val[0][1] == 2  # torchvision's ImageFolder would say 0


def test_a_val_class_unknown_to_train_is_an_error(tmp_path):
    _save(tmp_path / "train/ant/1.png")
    _save(tmp_path / "val/zebra/1.png")
    with pytest.raises(ValueError, match="zebra"):
        build_dataset("imagefolder", root=tmp_path, split="val")


def test_missing_split_folder_and_empty_tree_are_named(tmp_path):
    _save(tmp_path / "train/ant/1.png")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "val")):
        build_dataset("imagefolder", root=tmp_path, split="val")
    (tmp_path / "empty/train/ant").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no image files"):
        build_dataset("imagefolder", root=tmp_path / "empty")


def test_imagenet_needs_its_1000_classes(tmp_path):
    _save(tmp_path / "train/n01440764/x.JPEG")
    _save(tmp_path / "val/n01440764/y.JPEG")
    with pytest.raises(ValueError, match="1000 class folders.*imagefolder"):
        build_dataset("imagenet", root=tmp_path)
    for index in range(999):
        (tmp_path / f"train/n{index:08d}").mkdir()
    _save(tmp_path / "val/n00000000/z.JPEG", colour=(255, 0, 0))
    val = build_dataset("imagenet", root=tmp_path, split="val")
    assert val.num_classes == 1000 and len(val) == 2
    assert [label for _, label in val.samples] == [0, 999]  # n01440764 sorts after n00000000..n00000998
    assert val[0][0].getpixel((0, 0)) == (254, 0, 0)  # JPEG rounding of pure red


def test_imagenette_layout(tmp_path):
    wnids = [f"n0{index}" for index in range(10)]
    for wnid in wnids:
        _save(tmp_path / f"train/{wnid}/a.JPEG")
        _save(tmp_path / f"val/{wnid}/b.JPEG")
    train = build_dataset("imagenette", root=tmp_path, split="train")
    assert len(train) == 10 and train.targets == list(range(10))
    with pytest.raises(ValueError, match="download"):
        build_dataset("imagenette", root=tmp_path, download=True)


INAT_SPECIES = ["00000_Animalia_Arthropoda_Insecta_Coleoptera_Cleridae_Trichodes_ornatus",
                "00001_Plantae_Tracheophyta_Magnoliopsida_Rosales_Rosaceae_Rosa_canina"]


def test_inaturalist_2021_layout_gives_rgb_species_labels(tmp_path):
    _save(tmp_path / "2021_valid" / INAT_SPECIES[0] / "a.jpg")
    _save(tmp_path / "2021_valid" / INAT_SPECIES[1] / "b.png", colour=130, mode="L")
    val = build_dataset("inaturalist", root=tmp_path, split="val")
    assert val.num_classes == 10000 and len(val) == 2
    items = sorted((label, image.mode, image.getpixel((0, 0))) for image, label in (val[0], val[1]))
    assert items[1] == (1, "RGB", (130, 130, 130))
    with pytest.raises(FileNotFoundError, match="2021_train"):
        build_dataset("inaturalist", root=tmp_path, split="train")
    _save(tmp_path / "2019" / "Plants" / "7" / "c.jpg")
    with pytest.raises(ValueError, match="same competition year"):
        build_dataset("inaturalist", root=tmp_path, split="val", train_version="2019")


def test_places365_layout_with_md5_checked_devkit(tmp_path, monkeypatch):
    (tmp_path / "categories_places365.txt").write_text("/a/airfield 0\n/a/alley 1\n")
    (tmp_path / "places365_val.txt").write_text("Places365_val_00000001.jpg 1\nPlaces365_val_00000002.jpg 0\n")
    (tmp_path / "places365_train_standard.txt").write_text("/a/airfield/00000001.jpg 0\n")
    _save(tmp_path / "val_256/Places365_val_00000001.jpg", colour=(0, 255, 0))
    _save(tmp_path / "val_256/Places365_val_00000002.jpg", colour=40, mode="L")
    _save(tmp_path / "data_256_standard/a/airfield/00000001.jpg")
    # torchvision checks the devkit files against the official md5s: point it at the fixture's
    monkeypatch.setattr(datasets.Places365, "_CATEGORIES_META",
                        ("categories_places365.txt", md5(tmp_path / "categories_places365.txt")))
    monkeypatch.setattr(datasets.Places365, "_FILE_LIST_META", {
        split: (name, md5(tmp_path / name)) if (tmp_path / name).exists() else (name, meta)
        for split, (name, meta) in datasets.Places365._FILE_LIST_META.items()})
    val = build_dataset("places365", root=tmp_path, split="val")
    assert val.num_classes == 365 and len(val) == 2
    assert val[0][1] == 1 and abs(val[0][0].getpixel((0, 0))[1] - 255) <= 2
    assert val[1][0].mode == "RGB" and val[1][1] == 0
    assert len(build_dataset("places365", root=tmp_path, split="train")) == 1
    with pytest.raises(FileNotFoundError, match="val_large"):
        build_dataset("places365", root=tmp_path, split="val", small=False)


def test_places365_devkit_failing_md5_is_reported(tmp_path):
    (tmp_path / "categories_places365.txt").write_text("/a/airfield 0\n")
    with pytest.raises(FileNotFoundError, match="categories_places365.txt"):
        build_dataset("places365", root=tmp_path, split="val")
