"""Writers of tiny data sets in the real on-disk formats, for the data tests."""
from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image


class Py2Str(bytes):
    """A Python 2 ``str``. The CIFAR batches were pickled by Python 2, so their keys and names are py2 strings:
    they load as ``bytes`` with ``encoding="bytes"`` (b"data", b"labels") and as ``str`` with ``encoding="latin1"``
    (what torchvision uses). Python 3's pickler cannot write them, hence the opcode-level writer below."""


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler, whose dispatch table can be extended
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj: Py2Str) -> None:
        data = bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[Py2Str] = _save_py2_str


def write_py2_pickle(obj, path: Path) -> None:
    with open(path, "wb") as handle:
        _Py2Pickler(handle, protocol=2).dump(obj)


def _py2(value):
    """Recursively turn str into Py2Str (dict keys, list items)."""
    if isinstance(value, str):
        return Py2Str(value.encode("latin1"))
    if isinstance(value, dict):
        return {_py2(key): _py2(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_py2(item) for item in value]
    return value


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) uint8 -> (N, 3072) rows as CIFAR stores them: 1024 R, then G, then B, each row-major."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def write_cifar10(root: Path, *, per_batch: int = 3, test_size: int = 4, seed: int = 0) -> dict:
    """Write ``root/cifar-10-batches-py`` with 5 training batches, a test batch and batches.meta.

    Returns:
        ``{"train_images": (N,32,32,3), "train_labels": list, "test_images", "test_labels", "md5": {file: md5}}``.
    """
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    result = {"train_images": [], "train_labels": [], "md5": {}}
    for batch in range(1, 6):
        images = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        write_py2_pickle(_py2({"batch_label": f"training batch {batch} of 5", "labels": labels,
                               "filenames": [f"img_{batch}_{i}.png" for i in range(per_batch)]}) | {
            Py2Str(b"data"): cifar_rows(images)}, folder / f"data_batch_{batch}")
        result["train_images"].append(images)
        result["train_labels"] += labels
    test_images = rng.integers(0, 256, size=(test_size, 32, 32, 3), dtype=np.uint8)
    test_labels = rng.integers(0, 10, size=test_size).tolist()
    write_py2_pickle(_py2({"batch_label": "testing batch 1 of 1", "labels": test_labels,
                           "filenames": [f"test_{i}.png" for i in range(test_size)]}) | {
        Py2Str(b"data"): cifar_rows(test_images)}, folder / "test_batch")
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    write_py2_pickle(_py2({"num_cases_per_batch": per_batch, "label_names": names, "num_vis": 3072}),
                     folder / "batches.meta")
    result["train_images"] = np.concatenate(result["train_images"])
    result.update(test_images=test_images, test_labels=test_labels,
                  md5={path.name: md5(path) for path in folder.iterdir()})
    return result


def write_cifar100(root: Path, *, train_size: int = 6, test_size: int = 4, seed: int = 1) -> dict:
    """Write ``root/cifar-100-python/{train, test, meta}`` (fine and coarse labels)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    result = {"md5": {}}
    for split, size in (("train", train_size), ("test", test_size)):
        images = rng.integers(0, 256, size=(size, 32, 32, 3), dtype=np.uint8)
        fine = rng.integers(0, 100, size=size).tolist()
        write_py2_pickle(_py2({"filenames": [f"{split}_{i}.png" for i in range(size)], "batch_label": f"{split} batch",
                               "fine_labels": fine, "coarse_labels": [label // 5 for label in fine]}) | {
            Py2Str(b"data"): cifar_rows(images)}, folder / split)
        result[f"{split}_images"], result[f"{split}_labels"] = images, fine
    write_py2_pickle(_py2({"fine_label_names": [f"fine_{i}" for i in range(100)],
                           "coarse_label_names": [f"coarse_{i}" for i in range(20)]}), folder / "meta")
    result["md5"] = {path.name: md5(path) for path in folder.iterdir()}
    return result


def patch_cifar_md5(monkeypatch, dataset_class, checksums: dict) -> None:
    """Point torchvision's md5 lists of ``dataset_class`` at the fixture's files (the real check still runs)."""
    monkeypatch.setattr(dataset_class, "train_list", [[name, checksums[name]] for name, _ in dataset_class.train_list])
    monkeypatch.setattr(dataset_class, "test_list", [[name, checksums[name]] for name, _ in dataset_class.test_list])
    monkeypatch.setattr(dataset_class, "meta", dict(dataset_class.meta, md5=checksums[dataset_class.meta["filename"]]))


def solid(colour, size=(12, 10), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def write_jpeg_cmyk(path: Path, rgb=(200, 100, 50), size=(12, 10)) -> None:
    solid(rgb, size).convert("CMYK").save(path, format="JPEG", quality=95)


def write_png_16bit_grey(path: Path, values: np.ndarray) -> None:
    Image.fromarray(values.astype(np.uint16)).save(path, format="PNG")


def write_truncated_jpeg(path: Path, size=(64, 64)) -> None:
    """A real JPEG cut to half its bytes (what an interrupted copy leaves)."""
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)).save(path, format="JPEG", quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_image_tree(root: Path) -> dict[str, Path]:
    """A two-class ``imagefolder`` root with one file of every awkward kind, plus a corrupt one.

    Layout::

        root/train/cat/a_rgb.jpg, b_grey.png, c_rgba.png, d_truncated.jpg, e_cmyk.jpg
        root/train/dog/a_palette.png, b_16bit.png, c_not_an_image.png, d_rgb.png
        root/val/cat/a_rgb.jpg   root/val/dog/a_rgb.png
    """
    files = {}
    for split, cls in (("train", "cat"), ("train", "dog"), ("val", "cat"), ("val", "dog")):
        (root / split / cls).mkdir(parents=True)
    files["rgb_jpeg"] = root / "train/cat/a_rgb.jpg"
    solid((10, 200, 30)).save(files["rgb_jpeg"], quality=95)
    files["grey_png"] = root / "train/cat/b_grey.png"
    solid(77, mode="L").save(files["grey_png"])
    files["rgba_png"] = root / "train/cat/c_rgba.png"
    solid((10, 20, 30, 0), mode="RGBA").save(files["rgba_png"])
    files["truncated_jpeg"] = root / "train/cat/d_truncated.jpg"
    write_truncated_jpeg(files["truncated_jpeg"])
    files["cmyk_jpeg"] = root / "train/cat/e_cmyk.jpg"
    write_jpeg_cmyk(files["cmyk_jpeg"])
    files["palette_png"] = root / "train/dog/a_palette.png"
    palette_image = Image.new("P", (12, 10), 1)
    palette_image.putpalette([0, 0, 0, 40, 90, 160] + [0] * 762)
    palette_image.save(files["palette_png"], transparency=0)
    files["grey16_png"] = root / "train/dog/b_16bit.png"
    write_png_16bit_grey(files["grey16_png"], np.full((10, 12), 257 * 99))
    files["not_an_image"] = root / "train/dog/c_not_an_image.png"
    files["not_an_image"].write_text("this is not an image")
    files["rgb_png"] = root / "train/dog/d_rgb.png"
    solid((1, 2, 3)).save(files["rgb_png"])
    solid((5, 5, 5)).save(root / "val/cat/a_rgb.jpg", quality=95)
    solid((9, 9, 9)).save(root / "val/dog/a_rgb.png")
    return files


# Training keys of a one-epoch run on a write_image_folder tree (tests of run identity and reliability).
FOLDER_RUN = {"dataset": "imagefolder", "epochs": 1, "warmup_epochs": 0.5, "max_train_samples": None,
              "effective_batch_size": None, "batch_size": 4}


def write_image_folder(root: Path, images_per_class: int, seed: int = 0) -> Path:
    """root/{train,val}/{a,b}/<index>.png of random 32-px images: the same names for every seed, other pixels."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for name in ("a", "b"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(images_per_class):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return root
