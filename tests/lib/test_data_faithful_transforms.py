"""The pretraining crop, its keypoints and weights, and the evaluation / fine-tune transforms equal the original's.

Two references, on the photos bundled with scikit-image:

- an independent re-implementation of each operation (torch's RNG drawn in the original's order, the box cut out and
  resampled with ``F.interpolate``, bilinear, ``align_corners=False``): agreement within 1 grey level for the crop
  (torchvision resamples uint8 with fixed-point weights, so a value can round the other way) and 2 for the evaluation
  transform (1 after rounding, plus the float error of undoing the normalisation);
- the original's torchvision pipelines as its code composes them (``ToImage`` + ``ToDtype(uint8)``, then the
  same transforms): identical outputs under the same seed, hence identical FAST keypoints and KAMIM weights.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms as v1
from torchvision.transforms import v2

from kamim_lib.data import (IMAGENET_MEAN, IMAGENET_STD, PretrainTransform, build_eval_transform,
                            build_finetune_transform)
from kamim_lib.keypoints import keypoint_map
from kamim_lib.sample_photos import PHOTO_NAMES, load_photo
from kamim_lib.weighting import keypoint_weights

SIZE = 192
SEEDS = range(4)
MEAN, STD = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {name: load_photo(name) for name in PHOTO_NAMES}


def reference_crop(photo: np.ndarray, seed: int, *, antialias: bool = False) -> torch.Tensor:
    """The original's pretraining crop, re-implemented: (3, SIZE, SIZE) uint8.

    Draws, in the original's order: the RandomResizedCrop box (scale 0.67-1, ratio 3/4-4/3), the vertical flip
    (p 0.5), the horizontal flip (p 0.5).
    """
    torch.manual_seed(seed)
    image = torch.from_numpy(photo).permute(2, 0, 1)
    top, left, height, width = v1.RandomResizedCrop.get_params(image, [0.67, 1.0], [3 / 4, 4 / 3])
    vertical, horizontal = bool(torch.rand(1) < 0.5), bool(torch.rand(1) < 0.5)
    box = image[:, top:top + height, left:left + width].float()[None]
    crop = F.interpolate(box, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=antialias)[0]
    crop = crop.round().clamp(0, 255).to(torch.uint8)
    if vertical:
        crop = crop.flip(-2)
    if horizontal:
        crop = crop.flip(-1)
    return crop


def original_pretrain_pipeline() -> v2.Compose:
    """The original's KAMIM_Dataset transforms (get_pretrain_dataset_params(192) with its defaults)."""
    return v2.Compose([v2.Compose([v2.ToImage(), v2.ToDtype(torch.uint8, scale=True)]),
                       v2.RandomResizedCrop((SIZE, SIZE), scale=(0.67, 1.0), ratio=(3 / 4, 4 / 3), antialias=False),
                       v2.RandomVerticalFlip(p=0.5), v2.RandomHorizontalFlip(p=0.5)])


def crop_with(transform, photo: np.ndarray, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    output = transform(Image.fromarray(photo))
    return (output["image"] if isinstance(output, dict) else output).as_subclass(torch.Tensor)


def grey_levels(normalised: torch.Tensor) -> torch.Tensor:
    """Undo the ImageNet normalisation: (3, H, W) on 0..255."""
    return (normalised * STD + MEAN) * 255


def test_default_crop_equals_the_reimplemented_original_within_one_grey_level(photos):
    transform = PretrainTransform(img_size=SIZE)
    means = []
    for name, photo in photos.items():
        for seed in SEEDS:
            difference = (crop_with(transform, photo, seed).int() - reference_crop(photo, seed).int()).abs()
            assert int(difference.max()) <= 1, (name, seed, int(difference.max()))
            means.append(float(difference.float().mean()))
    assert np.mean(means) < 0.3  # measured 0.15: rounding only


def test_antialiased_crop_is_an_option_that_the_reference_tells_apart(photos):
    antialiased = PretrainTransform(img_size=SIZE, crop_antialias=True)
    far = 0
    for photo in photos.values():
        for seed in SEEDS:
            crop = crop_with(antialiased, photo, seed).int()
            assert int((crop - reference_crop(photo, seed, antialias=True).int()).abs().max()) <= 1
            far += int((crop - reference_crop(photo, seed).int()).abs().max()) > 1
    assert far == len(photos) * len(SEEDS)  # the default's test above would fail with antialiasing on


def test_default_crop_keypoints_and_weights_equal_the_original_pipeline(photos):
    ours, original, antialiased = (PretrainTransform(img_size=SIZE), original_pretrain_pipeline(),
                                   PretrainTransform(img_size=SIZE, crop_antialias=True))
    crops, original_crops, antialiased_crops = [], [], []
    for photo in photos.values():
        for seed in SEEDS:
            crops.append(crop_with(ours, photo, seed))
            original_crops.append(crop_with(original, photo, seed))
            antialiased_crops.append(crop_with(antialiased, photo, seed))
    crops, original_crops, antialiased_crops = map(torch.stack, (crops, original_crops, antialiased_crops))
    assert torch.equal(crops, original_crops)
    maps = keypoint_map(crops, detector="fast", mode="points")
    assert torch.equal(maps, keypoint_map(original_crops, detector="fast", mode="points"))
    weights = keypoint_weights(crops, patch_size=8, temperature=0.25)
    assert torch.equal(weights, keypoint_weights(original_crops, patch_size=8, temperature=0.25))
    # The antialiased option smooths away about a quarter of FAST's keypoints (measured 864 vs 1188 per crop)
    # and changes the weights by about a third (measured 31 % mean relative difference per patch).
    antialiased_count = keypoint_map(antialiased_crops, detector="fast", mode="points").sum() / len(crops)
    assert antialiased_count < 0.85 * maps.sum() / len(crops)
    relative = (keypoint_weights(antialiased_crops, patch_size=8, temperature=0.25) - weights).abs() / weights
    assert float(relative.mean()) > 0.15


def test_eval_transform_squashes_like_the_original_within_two_grey_levels(photos):
    worst_option_mean = 0.0
    for name, photo in photos.items():
        image = torch.from_numpy(photo).permute(2, 0, 1).float()[None]
        reference = F.interpolate(image, size=(SIZE, SIZE), mode="bilinear", align_corners=False,
                                  antialias=False)[0].round()
        output = grey_levels(build_eval_transform(SIZE)(Image.fromarray(photo)))
        assert float((output - reference).abs().max()) <= 2, name
        option = grey_levels(build_eval_transform(SIZE, resize="shorter_side_crop")(Image.fromarray(photo)))
        worst_option_mean = max(worst_option_mean, float((option - reference).abs().mean()))
    assert worst_option_mean > 20  # measured 40 grey levels (coffee, 600x400): the crop cuts a third away


def test_finetune_transform_equals_the_original_pipeline_under_the_same_seed(photos):
    # the original's get_cpu_augment(192): squash, TrivialAugmentWide and RandomErasing() on uint8, normalise
    original = v2.Compose([v2.Compose([v2.ToImage(), v2.ToDtype(torch.uint8, scale=True)]),
                           v2.Resize((SIZE, SIZE), antialias=False), v2.TrivialAugmentWide(), v2.RandomErasing(),
                           v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    ours = build_finetune_transform(SIZE)
    for photo in photos.values():
        for seed in range(6):
            assert torch.equal(crop_with(ours, photo, seed), crop_with(original, photo, seed))
