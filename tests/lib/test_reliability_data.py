"""Reliability, round 2 (issue 22): data you can trust. Symlink loops are refused naming the link, a class folder
without images is an error naming it, and a broken data set ends in one line (exit code 2), never a traceback."""
import os

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from kamim_lib.data import build_dataset
from kamim_lib.data.corrupt import MAX_CONSECUTIVE_CORRUPT, BrokenDataError
from kamim_lib.data.image_io import CorruptImageError


def classes(root, counts: dict):
    """root/train/<class>/<i>.png of random 16-px images, ``counts[class]`` each."""
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for index in range(count):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return root


@pytest.mark.parametrize("target", ["..", "../classB", ".", "../.."])
def test_a_symlinked_folder_leading_back_into_the_split_is_refused_naming_it(tmp_path, target):
    root = classes(tmp_path, {"classA": 12, "classB": 12})
    os.symlink(target, root / "train" / "classA" / "loop")
    with pytest.raises(ValueError, match=r"classA/loop is a symlink to .*a loop"):
        build_dataset("imagefolder", root, "train")


def test_a_symlinked_folder_outside_the_split_is_still_followed(tmp_path):
    root = classes(tmp_path / "data", {"classA": 2, "classB": 2})
    extra = classes(tmp_path / "other_disk", {"more": 3}) / "train" / "more"
    os.symlink(extra, root / "train" / "classA" / "more")
    dataset = build_dataset("imagefolder", root, "train")
    assert len(dataset) == 7 and [label for _, label in dataset.samples].count(0) == 5


@pytest.mark.parametrize("content", [None, "notes.txt"])
def test_a_class_folder_without_images_is_an_error_naming_it(tmp_path, content):
    root = classes(tmp_path, {"classA": 2, "classB": 2})
    empty = root / "train" / "classC"
    empty.mkdir()
    if content:
        (empty / content).write_text("not an image")
    with pytest.raises(ValueError, match=r"class folder .*classC holds no image files"):
        build_dataset("imagefolder", root, "train")


def test_a_broken_data_set_is_one_line_even_from_a_loader_worker(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    for index in range(MAX_CONSECUTIVE_CORRUPT + 2):
        (tmp_path / "train" / "a" / f"{index:03d}.png").write_bytes(b"\x89PNG broken")
    dataset = build_dataset("imagefolder", tmp_path, "train")
    with pytest.warns(Warning), pytest.raises(BrokenDataError) as direct:
        dataset[0]
    assert isinstance(direct.value, ValueError) and isinstance(direct.value, CorruptImageError)
    assert "000.png" in str(direct.value) and "check data_root" in str(direct.value)
    with pytest.raises(BrokenDataError) as from_worker:
        next(iter(DataLoader(dataset, batch_size=2, num_workers=1)))
    message = str(from_worker.value)
    assert "\n" not in message and "Traceback" not in message and message.startswith(
        f"{MAX_CONSECUTIVE_CORRUPT} consecutive unreadable image files")
