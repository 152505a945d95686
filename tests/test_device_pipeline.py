"""decode_on_device: JPEG bytes + crop boxes from the workers, decoding and cropping on the device, equal to the CPU
transform (torchvision v2 RandomResizedCrop antialias=False -> vertical flip -> horizontal flip on the uint8
tensor) on the CPU; on CUDA within one grey level."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from kamim_lib.data import PretrainTransform, build_dataset
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
    ("off", "cuda", True, "fast", False), ("auto", "cuda", True, "fast", True), ("auto", "cpu", True, "fast", False),
    ("auto", "cuda", False, None, False), ("auto", "cuda", True, "sift", False), ("on", "cpu", True, None, True),
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


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_decoding_on_the_gpu_is_within_one_grey_level_of_the_cpu(folder):
    samples = file_samples(build_dataset("imagefolder", root=folder, split="train"))
    dataset = PositionSeededDataset(EncodedPretrainDataset(samples, img_size=IMG))
    encoded = encoded_collate([dataset[(index, index)] for index in range(len(samples))])["encoded"]
    on_gpu = decode_crops(encoded, "cuda", IMG).cpu()
    on_cpu = decode_crops(encoded, "cpu", IMG)
    assert (on_gpu.int() - on_cpu.int()).abs().max() <= 1


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
