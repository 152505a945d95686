"""decode_on_device: JPEG bytes + crop boxes from the workers, decoding and cropping on the device, equal to the CPU
transform (torchvision v2 RandomResizedCrop antialias=False -> vertical flip -> horizontal flip on the uint8
tensor) on the CPU. On CUDA the crop is within one grey level of the CPU's and 4:4:4 JPEGs decode identically;
4:2:0 JPEGs do not (nvJPEG's chroma upsampling differs: measured by the device suite, not asserted here)."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from device_params import CPU_AND_CUDA
from kamim_lib.data import PretrainTransform, build_dataset
from kamim_lib.data.decode_agreement import (crop_difference, decode_difference, decode_rgb, grey_difference,
                                             photo_jpegs)
from kamim_lib.data.device_pipeline import (EncodedImages, EncodedPretrainDataset, crop_resize_flip, decode_crops,
                                            encoded_collate, file_samples, has_image_files, sample_crop_params)
from kamim_lib.data.photo_folder import write_photo_folder
from kamim_lib.engine.sampling import EpochBatchSampler, PositionSeededDataset, seeded_rngs
from kamim_lib.masking import RandomCellMask
from kamim_lib.runtime import decode_on_device_enabled, move_to_device

IMG = 64


def reference_transform(img_size=IMG):
    """The CPU pre-training augmentation the device path must reproduce: PretrainTransform's own (the original's
    uint8 crop without antialias, then the vertical and horizontal flips)."""
    return PretrainTransform(img_size=img_size).augment


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = write_photo_folder(tmp_path_factory.mktemp("photos") / "data", train_images=12, size_range=(90, 160))
    # The fallback paths: a PNG, a grey JPEG and a CMYK JPEG are decoded and cropped in the worker.
    rgb = np.asarray(Image.open(next((root / "train" / "astronaut").iterdir())))
    Image.fromarray(rgb).save(root / "train" / "astronaut" / "png_file.png")
    Image.fromarray(rgb[..., 0]).save(root / "train" / "astronaut" / "grey.jpg", quality=90)
    Image.fromarray(rgb).convert("CMYK").save(root / "train" / "astronaut" / "cmyk.jpg", quality=90)
    return root


def test_crop_draws_are_those_of_the_v2_transforms_and_leave_the_generator_in_the_same_state():
    crop = v2.RandomResizedCrop(IMG, scale=(0.67, 1.0), ratio=(3 / 4, 4 / 3), antialias=False)
    image = torch.randint(0, 256, (3, 120, 90), dtype=torch.uint8)
    for seed in range(20):
        with seeded_rngs(seed):
            params = sample_crop_params(120, 90, crop, 0.5, 0.5)
            after = torch.rand(3)
        with seeded_rngs(seed):
            expected = reference_transform()(v2.functional.to_pil_image(image))
            expected_after = torch.rand(3)
        assert torch.equal(crop_resize_flip(image, params, IMG), expected)
        assert torch.equal(after, expected_after)
    flips = set()
    for seed in range(40):
        with seeded_rngs(seed):
            flips.add(tuple(sample_crop_params(120, 90, crop, 0.5, 0.5)[4:].tolist()))
    assert flips == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_decoding_on_the_cpu_equals_the_cpu_transform_for_every_file_kind(folder):
    samples = file_samples(build_dataset("imagefolder", root=folder, split="train"))
    assert {path.suffix for path, _ in samples} == {".jpg", ".png"}
    dataset = PositionSeededDataset(EncodedPretrainDataset(samples, img_size=IMG))
    reference = PositionSeededDataset(build_dataset("imagefolder", root=folder, split="train",
                                                    transform=reference_transform()))
    keys = [(index, 1000 + index) for index in range(len(samples))]
    batch = encoded_collate([dataset[key] for key in keys])
    encoded = batch["encoded"]
    assert encoded.num_encoded == len(samples) - 2  # PNG and CMYK are cropped in the worker; grey JPEG is not
    crops = decode_crops(encoded, "cpu", IMG)
    expected = torch.stack([reference[key][0] for key in keys])
    assert crops.shape == (len(samples), 3, IMG, IMG) and crops.dtype == torch.uint8
    assert torch.equal(crops, expected)


def test_the_loader_passes_encoded_batches_through_pinning_and_to_device(folder):
    samples = file_samples(build_dataset("imagefolder", root=folder, split="train"))
    mask = RandomCellMask(input_size=IMG, mask_patch_size=16, model_patch_size=16, mask_ratio=0.5)
    dataset = PositionSeededDataset(EncodedPretrainDataset(samples, img_size=IMG, mask_generator=mask))
    sampler = EpochBatchSampler(len(samples), 4, seed=0, shuffle=True, last_batch="drop")
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=encoded_collate, num_workers=1)
    batch = move_to_device(next(iter(loader)), torch.device("cpu"))
    assert isinstance(batch["encoded"], EncodedImages) and len(batch["encoded"]) == 4
    assert batch["mask"].shape == (4, 4, 4) and batch["label"].shape == (4,)
    assert decode_crops(batch["encoded"], "cpu", IMG).shape == (4, 3, IMG, IMG)


def test_file_samples_needs_a_folder_data_set():
    digits = build_dataset("digits", split="train")
    assert not has_image_files(digits)
    with pytest.raises(ValueError, match="decode_on_device needs a data set of image files"):
        file_samples(digits)


@pytest.mark.parametrize("value, device, file_based, detector, expected", [
    ("off", "cuda", True, "fast", False), ("auto", "cpu", True, "fast", False), ("auto", "cuda", False, None, False),
    ("auto", "cuda", True, "sift", False), ("on", "cpu", True, None, True), ("on", "cuda", True, "fast", True),
    # auto = off even where it could work: slower than CPU decoding on an H100, and 4:2:0 JPEGs decode differently.
    ("auto", "cuda", True, "fast", False), ("auto", "cuda", True, None, False),
])
def test_decode_on_device_resolution(value, device, file_based, detector, expected):
    assert decode_on_device_enabled(value, device, file_based=file_based, detector=detector) is expected


@pytest.mark.parametrize("device, file_based, detector, reason", [
    ("xla", True, None, "no JPEG decoder"), ("cuda", False, None, "not a folder"),
    ("cuda", True, "orb", "need the CPU crop")])
def test_decode_on_device_on_says_why_it_cannot_work(device, file_based, detector, reason):
    with pytest.raises(ValueError, match=reason):
        decode_on_device_enabled("on", device, file_based=file_based, detector=detector)


def test_pretraining_with_decode_on_device_runs_on_the_cpu(folder, tmp_path):
    from engine_fixtures import tiny_config
    from kamim_lib.engine import build_task, fit
    from kamim_lib.runtime import Runtime

    config = tiny_config(tmp_path, dataset="imagefolder", data_root=str(folder), img_size=IMG, batch_size=4,
                         max_train_samples=None, epochs=2, decode_on_device="on", keypoints_on="workers")
    task = build_task(config, Runtime("cpu"))
    assert task.decode_on_device and task.method.weights_on_device  # crops exist only on the device: weights too
    summary = fit(config)
    assert summary["status"] == "finished" and np.isfinite(summary["train_loss_last_epoch"])


@pytest.mark.parametrize("device", CPU_AND_CUDA)
def test_cropping_on_the_device_is_within_one_grey_level_of_the_cpu(folder, device):
    samples = file_samples(build_dataset("imagefolder", root=folder, split="train"))
    dataset = PositionSeededDataset(EncodedPretrainDataset(samples, img_size=IMG))
    encoded = encoded_collate([dataset[(index, index)] for index in range(len(samples))])["encoded"]
    jpegs = [index for index, item in enumerate(encoded.items) if item.ndim == 1]
    params = encoded.params.tolist()
    flips = {tuple(params[index][4:]) for index in jpegs}
    assert len(jpegs) >= 10 and len(flips) > 1  # real crop boxes, flipped and not
    # The same CPU-decoded images on both sides: only the resize kernel differs (float on a GPU, uint8 on the CPU).
    images = decode_rgb([encoded.items[index] for index in jpegs], "cpu")
    difference = crop_difference(images, [params[index] for index in jpegs], IMG, device)
    assert difference["max"] <= 1 if device == "cuda" else difference["max"] == 0


@pytest.mark.parametrize("device", CPU_AND_CUDA)
def test_444_jpegs_decode_on_the_device_exactly_as_on_the_cpu(device):
    encoded = photo_jpegs(6, "4:4:4")
    decoded = decode_rgb(encoded, device)
    assert [image.device.type for image in decoded] == [device] * 6
    assert decode_difference(encoded, device) == {"max": 0, "mean": 0.0, "share_over_1": 0.0}


def test_grey_difference_pools_every_value():
    zeros = torch.zeros(3, 2, 2, dtype=torch.uint8)
    off = zeros.clone()
    off[0, 0, 0], off[1, 1, 1] = 200, 1  # one value 200 off (uint8 must not wrap), one 1 off
    assert grey_difference([zeros, zeros[:, :1]], [off, zeros[:, :1]]) == {
        "max": 200, "mean": round(201 / 18, 4), "share_over_1": round(1 / 18, 5)}
    with pytest.raises(ValueError, match="same positive number"):
        grey_difference([zeros], [])


def test_photo_jpegs_write_the_requested_chroma_subsampling():
    import io

    from PIL import JpegImagePlugin

    for subsampling, code in (("4:4:4", 0), ("4:2:0", 2)):
        encoded = photo_jpegs(2, subsampling)
        assert len(encoded) == 2 and all(item.dtype == torch.uint8 and item.ndim == 1 for item in encoded)
        assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(encoded[0].numpy().tobytes()))) == code
    with pytest.raises(ValueError, match="4:2:2"):
        photo_jpegs(1, "4:2:2")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_pretraining_on_cuda_with_every_speed_option(folder, tmp_path):
    from engine_fixtures import tiny_config
    from kamim_lib.engine import fit

    config = tiny_config(tmp_path, dataset="imagefolder", data_root=str(folder), img_size=IMG, batch_size=4,
                         max_train_samples=None, epochs=2, device="cuda", decode_on_device="on",
                         keypoints_on="device", compile=True, compile_keypoints=True, num_workers=1,
                         prefetch_factor=2)
    summary = fit(config)
    assert summary["status"] == "finished" and np.isfinite(summary["train_loss_last_epoch"])


def test_a_file_with_an_unreadable_header_is_skipped_like_on_the_cpu_path(tmp_path):
    import warnings

    from kamim_lib.data.device_pipeline import build_encoded_dataset

    root = write_photo_folder(tmp_path / "data", train_images=6, size_range=(80, 100))
    (root / "train" / "astronaut" / "000000.jpg").write_bytes(b"not a jpeg at all")
    dataset = build_encoded_dataset(build_dataset("imagefolder", root=root, split="train"), img_size=IMG,
                                    mask_generator=None)
    broken = [index for index, (path, _) in enumerate(dataset.samples) if path.name == "000000.jpg"][0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        item, label = dataset[broken]
    assert any("000000.jpg" in str(warning.message) for warning in caught)
    assert item["encoded"].ndim == 1 and label == dataset.samples[broken + 1][1]
