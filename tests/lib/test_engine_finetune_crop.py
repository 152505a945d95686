"""Fine-tune geometry (`finetune_crop`): the original's resize (default) never crops; RandomResizedCrop does.

SPEC 1.6 lists the fine-tune augmentation as TrivialAugmentWide + RandomErasing (+ MixUp/CutMix per batch); the
original's transform starts with Resize((192, 192)) (the eval squash) and has no random crop. The corner test turns
the two random augmentations off so that only the geometry is under test.
"""
import pytest
import torch
from PIL import Image

from kamim_lib.config import FINETUNE_CROPS, ConfigError, describe_config, load_config
from kamim_lib.data import IMAGENET_MEAN, IMAGENET_STD, build_eval_transform, build_finetune_transform
from kamim_lib.data.classify_transforms import FINETUNE_CROPS as TRANSFORM_CROPS
from kamim_lib.engine import ClassifierTask, classifier_train_transform, tasks
from kamim_lib.runtime import Runtime

from engine_fixtures import tiny_config

SIDE, BLOCK, OUT = 48, 12, 24
# (row, column) of each corner pixel of the output -> the RGB colour of that corner's block, on a grey image.
CORNERS = {(0, 0): (255, 0, 0), (0, OUT - 1): (0, 255, 0), (OUT - 1, 0): (0, 0, 255),
           (OUT - 1, OUT - 1): (255, 255, 255)}
DRAWS = 30


def corner_image() -> Image.Image:
    """A 48x48 grey square with a distinct 12x12 colour block in each corner (the blocks map to 6x6 at 24 px)."""
    image = torch.full((SIDE, SIDE, 3), 128, dtype=torch.uint8)
    for (row, column), colour in CORNERS.items():
        rows = slice(0, BLOCK) if row == 0 else slice(SIDE - BLOCK, SIDE)
        columns = slice(0, BLOCK) if column == 0 else slice(SIDE - BLOCK, SIDE)
        image[rows, columns] = torch.tensor(colour, dtype=torch.uint8)
    return Image.fromarray(image.numpy())


def keeps_every_corner(output: torch.Tensor) -> bool:
    """Whether each corner pixel of a normalised (3, 24, 24) output still has its block's colour."""
    pixels = output * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    return all(torch.allclose(pixels[:, row, column], torch.tensor(colour) / 255, atol=0.02)
               for (row, column), colour in CORNERS.items())


def geometry_only(crop: str):
    return build_finetune_transform(OUT, crop=crop, trivial_augment=False, random_erasing="none")


def step_names(transform) -> list[str]:
    return [type(step).__name__ for step in transform.transforms]


def test_resize_never_crops_and_is_the_evaluation_geometry():
    image, transform, reference = corner_image(), geometry_only("resize"), build_eval_transform(OUT)(corner_image())
    for seed in range(DRAWS):
        torch.manual_seed(seed)
        output = transform(image)
        assert output.shape == (3, OUT, OUT) and keeps_every_corner(output), seed
        assert torch.equal(output, reference)  # no random geometry at all (no crop, no flip)


def test_random_resized_crop_loses_corners_that_resize_keeps():
    transform = geometry_only("random_resized_crop")
    kept = []
    for seed in range(DRAWS):
        torch.manual_seed(seed)
        kept.append(keeps_every_corner(transform(corner_image())))
    assert not all(kept)  # the corner check above can fail: crops (scale 0.08-1) and flips move the corners


def test_finetune_recipes():
    assert step_names(build_finetune_transform(OUT, crop="resize")) == [
        "PILToTensor", "Resize", "TrivialAugmentWide", "RandomErasing", "ToDtype", "Normalize"]
    assert step_names(build_finetune_transform(OUT, crop="resize", resize="shorter_side_crop")) == [
        "PILToTensor", "Resize", "CenterCrop", "TrivialAugmentWide", "RandomErasing", "ToDtype", "Normalize"]
    assert step_names(build_finetune_transform(OUT, crop="random_resized_crop"))[:4] == [
        "PILToTensor", "RandomResizedCrop", "RandomHorizontalFlip", "TrivialAugmentWide"]
    assert "RandomHorizontalFlip" in step_names(build_finetune_transform(OUT, crop="resize", hflip_prob=0.5))
    with pytest.raises(ValueError, match="crop='center' is not supported; choose one of 'resize', "
                                         "'random_resized_crop'"):
        build_finetune_transform(OUT, crop="center")
    with pytest.raises(ValueError, match="hflip_prob must be in"):
        build_finetune_transform(OUT, hflip_prob=2.0)


def test_config_key_defaults_to_resize_and_rejects_unknown_values():
    assert FINETUNE_CROPS == TRANSFORM_CROPS
    for section in ("finetune", "linprobe"):
        assert load_config({"pretrained": "scratch"}, section=section).finetune_crop == "resize"
        assert "finetune_crop (str, default resize)" in describe_config(section)
    with pytest.raises(ConfigError, match="finetune_crop='crop' is not allowed; choose one of resize, "
                                          "random_resized_crop"):
        load_config({"pretrained": "scratch"}, ["finetune_crop=crop"], section="finetune")
    with pytest.raises(ConfigError, match="unknown key 'finetune_crop' for `kamim pretrain`"):
        load_config(None, ["finetune_crop=resize"], section="pretrain")


@pytest.mark.parametrize("augment, finetune_crop, eval_resize, first_steps", [
    ("finetune", "resize", "squash", ["PILToTensor", "Resize", "TrivialAugmentWide"]),
    ("finetune", "resize", "shorter_side_crop", ["PILToTensor", "Resize", "CenterCrop"]),
    ("finetune", "random_resized_crop", "squash", ["PILToTensor", "RandomResizedCrop", "RandomHorizontalFlip"]),
    ("probe", "resize", "squash", ["PILToTensor", "RandomResizedCrop", "RandomHorizontalFlip"]),  # ignores the keys
    ("eval", "random_resized_crop", "squash", ["PILToTensor", "Resize", "ToDtype"]),
    ("eval", "random_resized_crop", "shorter_side_crop", ["PILToTensor", "Resize", "CenterCrop"]),
])
def test_training_transform_follows_augment_and_finetune_crop(tmp_path, augment, finetune_crop, eval_resize,
                                                              first_steps):
    config = tiny_config(tmp_path, "finetune", pretrained="scratch", augment=augment, finetune_crop=finetune_crop,
                         eval_resize=eval_resize)
    assert step_names(classifier_train_transform(config))[:3] == first_steps


def test_the_task_builds_its_training_set_with_the_configured_crop(tmp_path, monkeypatch):
    requested = []
    original = tasks.build_finetune_transform

    def recording(img_size, **options):
        requested.append((img_size, options.get("crop")))
        return original(img_size, **options)

    monkeypatch.setattr(tasks, "build_finetune_transform", recording)
    for crop in ("random_resized_crop", "resize"):
        config = tiny_config(tmp_path, "finetune", pretrained="scratch", augment="finetune", finetune_crop=crop)
        task = ClassifierTask(config, Runtime("cpu"))
        image, _ = task.train_dataset[0]
        assert image.shape == (3, 32, 32)
    assert requested == [(32, "random_resized_crop"), (32, "resize")]
