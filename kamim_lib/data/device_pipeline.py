"""Pre-training input pipeline with JPEG decoding and crop/flip on the training device (``decode_on_device``).

When the CPU cannot decode and crop fast enough to keep a GPU busy (an H100 trains a ViT-B at 192 px far faster
than 16 cores decode ImageNet JPEGs), the DataLoader workers only read the file bytes and draw the random numbers;
the GPU decodes (torchvision's nvJPEG decoder) and crops. The augmentation is the pre-training one, in the same
order and with the same random draws:

    RandomResizedCrop(img_size, scale, ratio, bilinear, antialias=False) -> RandomVerticalFlip(p) ->
    RandomHorizontalFlip(p)

on the uint8 (3, H, W) image tensor. The workers draw the crop box and the flips from the per-sample seeded torch
generator exactly as those torchvision v2 transforms would (:func:`sample_crop_params`, same calls in the same
order), so the crop of sample (seed, epoch, position) is the same box as on the CPU path; the device then applies
it with the same torchvision kernel (:func:`crop_resize_flip`). On a CPU tensor the result equals the CPU transform
exactly. On a GPU (measured on an H100, :mod:`kamim_lib.data.decode_agreement`): the float bilinear crop is within
one grey level of the uint8 CPU kernel; nvJPEG decodes 4:4:4 JPEGs exactly as libjpeg-turbo, but upsamples the
chroma of 4:2:0 JPEGs (PIL's default, cameras, ImageNet) differently: up to ~50 grey levels at colour edges, mean
~0.7. That deviation, and a pipeline that was slower than CPU decoding on the H100, are why ``decode_on_device``
is an explicit opt-in (``auto`` = off).

Files that are not baseline RGB/grey JPEGs (PNG, CMYK JPEG, ...) are decoded and cropped in the worker with the
same parameters and travel as finished crops. A file whose header cannot be read raises
:class:`~kamim_lib.data.image_io.CorruptImageError`, which :func:`build_encoded_dataset`'s policy skips; a JPEG
whose header is fine but whose data is truncated fails on the device, where it cannot be skipped.

    dataset = EncodedPretrainDataset(file_samples(folder_dataset), img_size=192, mask_generator=RandomCellMask())
    loader = DataLoader(dataset, batch_size=256, collate_fn=encoded_collate, num_workers=8)
    batch = next(iter(loader))
    images = decode_crops(batch["encoded"], device="cuda")      # (B, 3, 192, 192) uint8 on the GPU
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset, Subset, default_collate
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as TF

from kamim_lib.data.corrupt import SkipCorruptImages
from kamim_lib.data.image_io import CorruptImageError, load_rgb_image
from kamim_lib.data.pretrain_transform import PRETRAIN_CROP_RATIO, PRETRAIN_CROP_SCALE

# Pillow modes of JPEGs that the device decoder reads as RGB exactly like Pillow does (grey is replicated).
_DEVICE_JPEG_MODES = ("RGB", "L")
#: Columns of a crop-parameter row.
CROP_PARAM_FIELDS = ("top", "left", "height", "width", "vflip", "hflip")


def sample_crop_params(height: int, width: int, crop: v2.RandomResizedCrop, vflip_prob: float,
                       hflip_prob: float) -> torch.Tensor:
    """Draw one crop box and the two flips from torch's global generator, as the v2 transforms would.

    The draws are those of ``v2.RandomResizedCrop.make_params`` (the same method is called) followed by
    ``RandomVerticalFlip`` then ``RandomHorizontalFlip`` (one ``torch.rand(1)`` each, flip when below ``p``), so
    the generator is left in the same state as after the CPU transform and later draws (the mask) agree too.

    Args:
        height, width: size of the full decoded image (from the file header).
        crop: the RandomResizedCrop whose ranges are used (``size`` is irrelevant here).
        vflip_prob, hflip_prob: flip probabilities.

    Returns:
        (6,) int64: top, left, crop height, crop width, vflip (0/1), hflip (0/1) (:data:`CROP_PARAM_FIELDS`).
    """
    # A zero-stride placeholder of the image's shape: make_params reads only the size.
    placeholder = torch.empty(1, dtype=torch.uint8).expand(3, height, width)
    box = crop.make_params([placeholder])
    vflip = bool(torch.rand(1) < vflip_prob)
    hflip = bool(torch.rand(1) < hflip_prob)
    return torch.tensor([box["top"], box["left"], box["height"], box["width"], vflip, hflip], dtype=torch.int64)


def crop_resize_flip(image: torch.Tensor, params: Sequence[int], img_size: int) -> torch.Tensor:
    """Apply one crop-parameter row to one image, on the image's device.

    Args:
        image: (3, H, W) uint8.
        params: the six values of :func:`sample_crop_params` (a list of ints or a (6,) tensor).
        img_size: output side.

    Returns:
        (3, img_size, img_size) uint8: bilinear resize without antialiasing (torchvision's kernel), then the flips.
    """
    top, left, height, width, vflip, hflip = (int(value) for value in params)
    out = TF.resized_crop(image, top, left, height, width, [img_size, img_size],
                          interpolation=InterpolationMode.BILINEAR, antialias=False)
    if vflip:
        out = TF.vertical_flip(out)
    if hflip:
        out = TF.horizontal_flip(out)
    return out


class EncodedImages:
    """A batch of still-encoded JPEGs (1-D uint8 tensors) and finished crops ((3, S, S) uint8), with their
    (B, 6) crop parameters.

    Deliberately not a tensor, list or dict: the runtime's ``to_device`` and the DataLoader's pinning pass it
    through untouched, because the device decoder wants the encoded bytes in host memory.
    """

    def __init__(self, items: list[torch.Tensor], params: torch.Tensor):
        if len(items) != params.shape[0]:
            raise ValueError(f"{len(items)} images but {params.shape[0]} crop-parameter rows.")
        self.items = items
        self.params = params

    def __len__(self) -> int:
        return len(self.items)

    @property
    def num_encoded(self) -> int:
        """How many items are JPEG bytes still to decode (the rest are crops made in the workers)."""
        return sum(item.ndim == 1 for item in self.items)


def decode_crops(encoded: EncodedImages, device: torch.device | str, img_size: int) -> torch.Tensor:
    """Decode (JPEG items) and crop/flip every image of ``encoded`` on ``device``.

    Args:
        encoded: from :func:`encoded_collate` (in host memory).
        device: where to decode and crop ("cpu" runs the same code with libjpeg-turbo; "cuda" uses nvJPEG).
        img_size: output side.

    Returns:
        (B, 3, img_size, img_size) uint8 on ``device``.
    """
    from torchvision.io import ImageReadMode, decode_jpeg

    device = torch.device(device)
    params = encoded.params.tolist()
    out = torch.empty((len(encoded), 3, img_size, img_size), dtype=torch.uint8, device=device)
    jpeg_positions = [index for index, item in enumerate(encoded.items) if item.ndim == 1]
    if jpeg_positions:
        decoded = decode_jpeg([encoded.items[index] for index in jpeg_positions], mode=ImageReadMode.RGB,
                              device=device)
        for index, image in zip(jpeg_positions, decoded):
            out[index] = crop_resize_flip(image, params[index], img_size)
    for index, item in enumerate(encoded.items):
        if item.ndim == 3:
            out[index] = item.to(device, non_blocking=True)
    return out


def file_samples(dataset: Dataset) -> list[tuple[Path, int]]:
    """The ``(path, label)`` list behind a folder data set (also inside ``Subset`` / ``SkipCorruptImages``).

    Raises:
        ValueError: the data set is not file-based (e.g. digits, CIFAR), so there is nothing to decode.
    """
    if isinstance(dataset, Subset):
        inner = file_samples(dataset.dataset)
        return [inner[index] for index in dataset.indices]
    samples = getattr(dataset, "samples", None)
    if not isinstance(samples, list) or (samples and not isinstance(samples[0][0], (str, os.PathLike))):
        raise ValueError(f"decode_on_device needs a data set of image files (imagefolder, imagenet, imagenette); "
                         f"{type(dataset).__name__} has no file list. Use decode_on_device='off'.")
    return [(Path(path), int(label)) for path, label in samples]


def has_image_files(dataset: Dataset) -> bool:
    """Whether :func:`file_samples` can list ``dataset``'s files."""
    try:
        file_samples(dataset)
    except ValueError:
        return False
    return True


def is_device_jpeg(path: Path) -> tuple[bool, int, int]:
    """(whether the device decoder can read the file as Pillow would, height, width), from the header only.

    Raises:
        CorruptImageError: the header cannot be read.
    """
    try:
        with Image.open(path) as image:
            return image.format == "JPEG" and image.mode in _DEVICE_JPEG_MODES, image.height, image.width
    except Exception as error:  # Pillow raises OSError, SyntaxError, ... on bad files
        raise CorruptImageError(f"cannot read image file {path}: {type(error).__name__}: {error}",
                                path=path) from error


class EncodedPretrainDataset(Dataset):
    """Pre-training samples whose decoding and cropping are left to the device.

    Items are ``({"encoded": bytes (N,) uint8 or crop (3, S, S) uint8, "crop_params": (6,) int64,
    "mask": (g, g) int64}, label)``; load them under :class:`~kamim_lib.engine.sampling.PositionSeededDataset`
    like the CPU transform, so the same position draws the same crop and mask.

    Args:
        samples: ``(path, label)`` pairs (:func:`file_samples`).
        img_size: crop side.
        mask_generator: as for :class:`~kamim_lib.data.PretrainTransform` (called after the crop draws).
        scale, ratio, vflip_prob, hflip_prob: the augmentation's ranges (defaults: the original's).
    """

    def __init__(self, samples: Sequence[tuple[Path, int]], *, img_size: int,
                 mask_generator: Callable[[], object] | None = None,
                 scale: tuple[float, float] = PRETRAIN_CROP_SCALE, ratio: tuple[float, float] = PRETRAIN_CROP_RATIO,
                 vflip_prob: float = 0.5, hflip_prob: float = 0.5):
        if not samples:
            raise ValueError("EncodedPretrainDataset needs at least one (path, label) sample.")
        self.samples = list(samples)
        self.img_size = img_size
        self.mask_generator = mask_generator
        self.crop = v2.RandomResizedCrop(img_size, scale=tuple(scale), ratio=tuple(ratio),
                                         interpolation=InterpolationMode.BILINEAR, antialias=False)
        self.vflip_prob, self.hflip_prob = vflip_prob, hflip_prob

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        device_readable, height, width = is_device_jpeg(path)
        params = sample_crop_params(height, width, self.crop, self.vflip_prob, self.hflip_prob)
        if device_readable:
            item = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
        else:  # decode and crop here, with the parameters just drawn
            pixels = TF.pil_to_tensor(load_rgb_image(path))
            item = crop_resize_flip(pixels, params, self.img_size).contiguous()
        sample = {"encoded": item, "crop_params": params}
        if self.mask_generator is not None:
            sample["mask"] = torch.as_tensor(self.mask_generator(), dtype=torch.int64)
        return sample, label


def build_encoded_dataset(dataset: Dataset, *, img_size: int, mask_generator: Callable[[], object] | None,
                          on_corrupt: str = "skip") -> SkipCorruptImages:
    """The ``decode_on_device`` training set over the files of a folder data set (``Subset`` cuts kept), with the
    corrupt-file policy of :mod:`kamim_lib.data.corrupt` (a file whose header cannot be read is skipped)."""
    encoded = EncodedPretrainDataset(file_samples(dataset), img_size=img_size, mask_generator=mask_generator)
    return SkipCorruptImages(encoded, on_corrupt=on_corrupt)


def encoded_collate(samples) -> dict:
    """``[(EncodedPretrainDataset item, label), ...]`` -> ``{"encoded": EncodedImages, "mask": (B, g, g),
    "label": (B,)}`` (``mask`` only when drawn)."""
    if not samples:
        raise ValueError("samples is empty: a batch needs at least one sample.")
    fields, labels = zip(*samples)
    batch = {"encoded": EncodedImages([field["encoded"] for field in fields],
                                      torch.stack([field["crop_params"] for field in fields]))}
    if "mask" in fields[0]:
        batch["mask"] = default_collate([field["mask"] for field in fields])
    batch["label"] = torch.as_tensor(labels, dtype=torch.int64)
    return batch
