"""Pre-training, fine-tuning and evaluation transforms, the collate and the device normalisation."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from kamim_lib.data import (IMAGENET_MEAN, IMAGENET_STD, PretrainTransform, build_dataset,
                            build_eval_transform, build_finetune_transform, normalize_on_device, pretrain_collate,
                            unnormalize)
from kamim_lib.masking import RandomCellMask
from kamim_lib.methods.kamim import KeypointSpec


def _photo(width=48, height=40, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8))


def test_pretrain_sample_is_a_square_uint8_crop_with_an_exact_mask():
    masker = RandomCellMask(input_size=64, mask_patch_size=16, model_patch_size=8, mask_ratio=0.6)
    sample = PretrainTransform(img_size=64, mask_generator=masker)(_photo(90, 50))
    assert set(sample) == {"image", "mask"}
    assert sample["image"].dtype == torch.uint8 and sample["image"].shape == (3, 64, 64)
    assert sample["mask"].dtype == torch.int64 and sample["mask"].shape == (8, 8)
    assert int(sample["mask"].sum()) == 10 * 4  # ceil(16 cells * 0.6) = 10 cells of 2x2 tokens


def test_pretrain_crop_keeps_the_original_pixel_values():
    # a constant image stays constant through crop, resize and flips: no normalisation, no colour jitter
    sample = PretrainTransform(img_size=32)(Image.new("RGB", (50, 70), (12, 200, 99)))
    assert torch.equal(sample["image"], torch.tensor([12, 200, 99], dtype=torch.uint8).view(3, 1, 1).expand(3, 32, 32))


def test_pretrain_crop_uses_the_original_scale_range_order_and_no_antialias():
    transform = PretrainTransform(img_size=16)
    names = [type(step).__name__ for step in transform.augment.transforms]
    assert names == ["PILToTensor", "RandomResizedCrop", "RandomVerticalFlip", "RandomHorizontalFlip"]
    crop = transform.augment.transforms[1]
    assert crop.scale == (0.67, 1.0) and crop.ratio == pytest.approx((3 / 4, 4 / 3))
    assert crop.antialias is False and transform.crop_antialias is False
    assert PretrainTransform(img_size=16, crop_antialias=True).augment.transforms[1].antialias is True
    with pytest.raises(ValueError, match="crop_antialias must be True or False"):
        PretrainTransform(crop_antialias="no")


def test_pretrain_applies_horizontal_and_vertical_flips_each_half_the_time():
    source = _photo(16, 16, seed=1)
    original = torch.from_numpy(np.asarray(source).copy()).permute(2, 0, 1)
    variants = {"none": original, "h": original.flip(-1), "v": original.flip(-2), "hv": original.flip(-1, -2)}
    # scale and ratio fixed at 1: the crop is the whole image at its own size, so only the flips change pixels
    transform = PretrainTransform(img_size=16, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    counts = dict.fromkeys(variants, 0)
    for _ in range(400):
        image = transform(source)["image"]
        matches = [name for name, variant in variants.items() if torch.equal(image, variant)]
        assert len(matches) == 1
        counts[matches[0]] += 1
    assert all(60 <= count <= 140 for count in counts.values()), counts  # 100 expected each, sd ~ 8.7


def test_pretrain_rejects_bad_arguments():
    with pytest.raises(ValueError, match="img_size"):
        PretrainTransform(img_size=0)
    with pytest.raises(ValueError, match="detector"):
        KeypointSpec(detector="harris")
    with pytest.raises(ValueError, match="temperature"):
        KeypointSpec(temperature=0)
    with pytest.raises(ValueError, match="mask_generator"):
        PretrainTransform(mask_generator=5)
    with pytest.raises(ValueError, match="input_size=192 must equal img_size=64"):
        PretrainTransform(img_size=64, mask_generator=RandomCellMask())


def test_pretrain_loader_gives_static_batches_with_labels():
    masker = RandomCellMask(input_size=32, mask_patch_size=16, model_patch_size=8, mask_ratio=0.5)
    dataset = build_dataset("digits", split="val", transform=PretrainTransform(img_size=32, mask_generator=masker))
    loader = DataLoader(dataset, batch_size=64, shuffle=True, drop_last=True, num_workers=2,
                        collate_fn=pretrain_collate)
    batches = list(loader)
    assert len(batches) == 355 // 64
    for batch in batches:
        assert set(batch) == {"image", "mask", "label"}
        assert batch["image"].shape == (64, 3, 32, 32) and batch["image"].dtype == torch.uint8
        assert batch["mask"].shape == (64, 4, 4) and torch.all(batch["mask"].sum(dim=(1, 2)) == 2 * 4)
        assert batch["label"].dtype == torch.int64 and batch["label"].max() <= 9
    # workers draw different masks (numpy is seeded per worker)
    masks = torch.cat([batch["mask"] for batch in batches]).flatten(1)
    assert len(torch.unique(masks, dim=0)) > 1


def test_collate_rejects_plain_tensors():
    with pytest.raises(ValueError, match="default_collate"):
        pretrain_collate([(torch.zeros(3), 1)])


def test_normalize_on_device_matches_the_imagenet_constants():
    images = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 2, 1).expand(2, 3, 2, 2).contiguous()
    normalised = normalize_on_device(images)
    assert normalised.dtype == torch.float32 and normalised.shape == (2, 3, 2, 2)
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(normalised[0, :, 0, 0], -mean / std)
    torch.testing.assert_close(normalised[1, :, 1, 1], (1 - mean) / std)
    torch.testing.assert_close(unnormalize(normalised), images.float() / 255)
    with pytest.raises(ValueError, match="uint8"):
        normalize_on_device(images.float())


def test_finetune_transform_output_and_recipe():
    # the default is the original's: uint8 tensor, squash, TrivialAugmentWide, RandomErasing() on uint8, normalise
    transform = build_finetune_transform(24)
    output = transform(_photo(40, 30))
    assert output.dtype == torch.float32 and output.shape == (3, 24, 24)
    names = [type(step).__name__ for step in transform.transforms]
    assert names == ["PILToTensor", "Resize", "TrivialAugmentWide", "RandomErasing", "ToDtype", "Normalize"]
    resize, erasing = transform.transforms[1], transform.transforms[3]
    assert resize.size == [24, 24] and resize.antialias is False
    assert erasing.p == 0.5 and erasing.value == [0.0]  # torchvision's defaults: black rectangles on uint8
    # the timm/SimMIM options
    transform = build_finetune_transform(24, crop="random_resized_crop", random_erasing="noise")
    names = [type(step).__name__ for step in transform.transforms]
    assert names == ["PILToTensor", "RandomResizedCrop", "RandomHorizontalFlip", "TrivialAugmentWide", "ToDtype",
                     "Normalize", "RandomErasing"]
    erasing = transform.transforms[-1]
    assert erasing.p == 0.25 and erasing.value is None  # None is torchvision's "random" (normal noise) fill
    assert transform.transforms[1].scale == (0.08, 1.0)
    with pytest.raises(ValueError, match="random_erasing='random' is not supported"):
        build_finetune_transform(24, random_erasing="random")


@pytest.mark.parametrize("mode, probability, erased_value", [("black", 0.5, 0.0), ("noise", 0.25, None)])
def test_finetune_random_erasing_fires_at_its_probability(mode, probability, erased_value):
    # a constant image, no other randomness that changes values: erased images are the ones that are not constant
    transform = build_finetune_transform(16, trivial_augment=False, random_erasing=mode)
    grey = Image.new("RGB", (16, 16), (128, 128, 128))
    outputs = [transform(grey) for _ in range(400)]
    erased = [output for output in outputs if output.std(dim=(1, 2)).max() > 0]
    assert abs(len(erased) - 400 * probability) <= 40, len(erased)  # sd 10 (p 0.5) / 8.7 (p 0.25)
    if erased_value is not None:  # black: erased pixels are 0 on uint8, i.e. -mean/std after normalisation
        black = -torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)
        assert all(torch.isclose(output, black.view(3, 1, 1)).all(dim=0).any() for output in erased)
    else:  # noise: the erased values are not one colour
        background = outputs[[output.std(dim=(1, 2)).max() > 0 for output in outputs].index(False)]
        assert all(output[output != background].std() > 0.5 for output in erased)  # N(0, 1) fill


def test_eval_transform_squashes_without_cropping_and_normalises():
    transform = build_eval_transform(16)
    output = transform(Image.new("RGB", (50, 30), (255, 0, 51)))
    assert output.shape == (3, 16, 16) and output.dtype == torch.float32
    expected = (torch.tensor([1.0, 0.0, 0.2]) - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(output[:, 8, 8], expected)
    # deterministic
    photo = _photo(50, 30)
    assert torch.equal(transform(photo), transform(photo))
    # squash keeps the left and right edges of a wide image; shorter_side_crop cuts them off
    wide = np.full((30, 60, 3), 128, dtype=np.uint8)
    wide[:, :6] = (255, 0, 0)
    squashed = build_eval_transform(16)(Image.fromarray(wide))
    cropped = build_eval_transform(16, resize="shorter_side_crop")(Image.fromarray(wide))
    red = (torch.tensor([1.0, 0.0, 0.0]) - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(squashed[:, 8, 0], red)
    assert not torch.allclose(cropped[:, 8, 0], red, atol=0.1)
    with pytest.raises(ValueError, match="resize='crop' is not supported"):
        build_eval_transform(16, resize="crop")
