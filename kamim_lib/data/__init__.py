"""Data: the dataset registry, robust image loading and the transforms of pre-training, fine-tuning and evaluation.

Data sets (:func:`build_dataset`): ``digits``, ``textured_digits`` and ``photo_crops`` (embedded, offline),
``synthetic``, ``cifar10``, ``cifar100``, ``imagefolder``, ``imagenet``, ``imagenette``, ``inaturalist``, ``places365``.

A pre-training batch travels as uint8 crops (plus masks and, with ``keypoints_on="workers"``, keypoint weights);
normalisation, and with ``keypoints_on="device"`` the keypoint weights, happen on the training device::

    transform = PretrainTransform(img_size=192, mask_generator=RandomCellMask(), keypoints=KeypointSpec())
    loader = DataLoader(build_dataset("digits", transform=transform), batch_size=64, drop_last=True,
                        collate_fn=pretrain_collate)
    batch = next(iter(loader))                       # image (B,3,192,192) uint8, mask, weights, label
    images = normalize_on_device(batch["image"].to(device))
"""
from kamim_lib.data.classify_transforms import build_eval_transform, build_finetune_transform, build_probe_transform
from kamim_lib.data.collate import pretrain_collate
from kamim_lib.data.corrupt import ON_CORRUPT_CHOICES, CorruptImageWarning, SkipCorruptImages
from kamim_lib.data.digits import DigitsDataset
from kamim_lib.data.folder import ImageFolderDataset
from kamim_lib.data.image_io import CorruptImageError, load_rgb_image, to_rgb
from kamim_lib.data.mixup import MixupCutmix
from kamim_lib.data.normalization import IMAGENET_MEAN, IMAGENET_STD, normalize_on_device, unnormalize
from kamim_lib.data.photo_crops import PhotoCropsDataset
from kamim_lib.data.pretrain_transform import PretrainTransform
from kamim_lib.data.registry import (DatasetInfo, build_dataset, dataset_info, dataset_num_classes, list_datasets,
                                     register_dataset)
from kamim_lib.data.synthetic import SyntheticDataset
from kamim_lib.data.textured_digits import TexturedDigitsDataset

__all__ = [
    "build_dataset", "list_datasets", "dataset_num_classes", "dataset_info", "register_dataset", "DatasetInfo",
    "DigitsDataset", "TexturedDigitsDataset", "PhotoCropsDataset", "SyntheticDataset", "ImageFolderDataset",
    "SkipCorruptImages", "ON_CORRUPT_CHOICES",
    "CorruptImageError", "CorruptImageWarning", "load_rgb_image", "to_rgb",
    "PretrainTransform", "KeypointSpec", "worker_keypoint_weights", "device_keypoint_weights", "pretrain_collate",
    "normalize_on_device", "unnormalize", "IMAGENET_MEAN", "IMAGENET_STD",
    "build_finetune_transform", "build_probe_transform", "build_eval_transform", "MixupCutmix",
]
