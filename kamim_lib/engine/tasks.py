"""What differs between pretraining, fine-tuning and linear probing: the model, the data and the loss.

Each task exposes the same small surface to the one training loop (:mod:`.loop`):

- ``model``: the module whose trainable parameters the optimiser updates (before any DDP wrapping);
- ``train_dataset`` and ``collate``: items ``(transform(image), label)`` and how to batch them into a dict;
- ``train_loss(model, batch, step_seed)``: the scalar loss of one micro-batch already on the device;
- ``evaluate(runtime)``: validation numbers after an epoch ({} for pretraining);
- ``final_evaluation(runtime)``: numbers computed once at the end (kNN for linear probing).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from ..config import FinetuneConfig, LinprobeConfig, PretrainConfig, TrainConfig
from ..data import (KeypointSpec, MixupCutmix, PretrainTransform, build_dataset, build_eval_transform,
                    build_finetune_transform, build_probe_transform, device_keypoint_weights,
                    normalize_on_device, pretrain_collate)
from ..evidence.weighting import shuffle_weights_within_image
from ..losses import masked_l1
from ..masking import RandomCellMask
from ..models import create_model
from ..runtime import Runtime
from .evaluation import evaluate_classifier, extract_features, knn_accuracy
from .heads import FinetuneClassifier, LinearProbe
from .pretrained import load_backbone
from .sampling import EpochBatchSampler, PositionSeededDataset


def build_split(config: TrainConfig, split: str, transform) -> Dataset:
    """The configured data set's ``split``, cut to ``max_train_samples`` / ``max_eval_samples``."""
    dataset = build_dataset(config.dataset, root=config.data_root, split=split, transform=transform,
                            **config.dataset_options)
    limit = config.max_train_samples if split == "train" else getattr(config, "max_eval_samples", None)
    if limit is not None and limit < len(dataset):
        subset = Subset(dataset, range(limit))
        subset.num_classes = getattr(dataset, "num_classes", None)
        return subset
    return dataset


def classification_collate(samples) -> dict[str, torch.Tensor]:
    """``[(image (3,H,W) float, label), ...]`` -> ``{"image": (B,3,H,W), "label": (B,) int64}``."""
    images, labels = default_collate(samples)
    return {"image": images, "label": torch.as_tensor(labels, dtype=torch.int64)}


def eval_loader(dataset: Dataset, config: TrainConfig, runtime: Runtime, collate) -> DataLoader:
    """This process's shard of ``dataset`` in natural order, every sample once (last batch may be short)."""
    batch_size = (config.eval_batch_size or config.batch_size) * runtime.samples_per_process
    sampler = EpochBatchSampler(len(dataset), batch_size, seed=config.seed, rank=runtime.rank,
                                world_size=runtime.world_size, shuffle=False, drop_last=False)
    return DataLoader(PositionSeededDataset(dataset), batch_sampler=sampler, collate_fn=collate,
                      num_workers=config.num_workers, pin_memory=runtime.device.type == "cuda")


def classifier_train_transform(config: FinetuneConfig | LinprobeConfig):
    """The training transform that ``augment`` (and, for "finetune", ``finetune_crop``) selects.

    Returns:
        Callable PIL RGB image -> (3, img_size, img_size) float32, ImageNet-normalised.
    """
    if config.augment == "finetune":
        return build_finetune_transform(config.img_size, crop=config.finetune_crop)
    if config.augment == "probe":
        return build_probe_transform(config.img_size)
    return build_eval_transform(config.img_size)


class PretrainTask:
    """SimMIM / KAMIM masked image modelling (SPEC §1): masked (keypoint-weighted) L1 on reconstructed pixels."""

    section = "pretrain"

    def __init__(self, config: PretrainConfig, runtime: Runtime):
        self.config = config
        self.runtime = runtime
        self.model = create_model(config.model, img_size=config.img_size, final_norm=config.final_norm)
        self.patch_size = self.model.patch_size
        kamim = config.method == "kamim"
        self.keypoints = KeypointSpec(detector=config.detector, mode=config.keypoint_mode,
                                      patch_size=config.weight_patch_size,
                                      temperature=config.temperature) if kamim else None
        self.weights_on_device = kamim and config.keypoints_on == "device"
        mask_generator = RandomCellMask(input_size=config.img_size, mask_patch_size=config.mask_patch_size,
                                        model_patch_size=self.patch_size, mask_ratio=config.mask_ratio)
        transform = PretrainTransform(img_size=config.img_size, mask_generator=mask_generator,
                                      keypoints=None if self.weights_on_device else self.keypoints)
        self.train_dataset = build_split(config, "train", transform)
        self.collate = pretrain_collate

    def loss_weights(self, batch: dict) -> torch.Tensor | None:
        """(B, h, w) keypoint weights from the workers or computed here on the device; None for SimMIM."""
        if self.keypoints is None:
            return None
        if self.weights_on_device:
            return device_keypoint_weights(batch["image"], self.keypoints)
        return batch["weights"]

    def train_loss(self, model: torch.nn.Module, batch: dict, step_seed: int) -> torch.Tensor:
        images = normalize_on_device(batch["image"])
        weights = self.loss_weights(batch)
        if weights is not None and self.config.shuffle_weights:  # the control of kamim_lib.evidence.weighting
            weights = shuffle_weights_within_image(weights, torch.Generator().manual_seed(step_seed))
        with self.runtime.autocast():
            reconstruction = model(images, batch["mask"])
        return masked_l1(reconstruction.float(), images, batch["mask"], self.patch_size, weight=weights,
                         normalize=self.config.loss_normalize)

    def evaluate(self, runtime: Runtime) -> dict:
        return {}

    def final_evaluation(self, runtime: Runtime) -> dict:
        return {}

    def describe(self) -> dict:
        return {"encoder_parameters": sum(p.numel() for p in self.model.encoder.parameters()),
                "patch_size": self.patch_size}


class ClassifierTask:
    """Fine-tuning or linear probing with MixUp/CutMix soft-target cross-entropy (SPEC §1.6)."""

    def __init__(self, config: FinetuneConfig | LinprobeConfig, runtime: Runtime):
        self.config = config
        self.runtime = runtime
        self.section = config.section
        self.backbone, self.pretrained_info = load_backbone(config)
        self.train_dataset = build_split(config, "train", classifier_train_transform(config))
        self.val_dataset = build_split(config, "val", build_eval_transform(config.img_size))
        self.num_classes = config.num_classes or int(getattr(self.train_dataset, "num_classes"))
        if isinstance(config, LinprobeConfig):
            self.model = LinearProbe(self.backbone, self.num_classes, layer=config.probe_layer,
                                     pooling=config.pooling, batchnorm=config.probe_batchnorm)
        else:
            self.model = FinetuneClassifier(self.backbone, self.num_classes, pooling=config.pooling)
        self.collate = classification_collate
        self.mixing = config.mixup_alpha > 0 or config.cutmix_alpha > 0

    def train_loss(self, model: torch.nn.Module, batch: dict, step_seed: int) -> torch.Tensor:
        images, labels = batch["image"], batch["label"]
        if self.mixing:
            # Seeded by the step position, so a resumed run mixes exactly as the uninterrupted one.
            mixer = MixupCutmix(num_classes=self.num_classes, mixup_alpha=self.config.mixup_alpha,
                                cutmix_alpha=self.config.cutmix_alpha, label_smoothing=self.config.label_smoothing,
                                seed=step_seed)
            images, targets = mixer(images, labels)
        with self.runtime.autocast():
            logits = model(images)
        logits = logits.float()
        if not self.mixing:
            return F.cross_entropy(logits, labels, label_smoothing=self.config.label_smoothing)
        return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()

    def _val_loader(self, dataset: Dataset) -> DataLoader:
        return eval_loader(dataset, self.config, self.runtime, self.collate)

    def evaluate(self, runtime: Runtime) -> dict:
        result = evaluate_classifier(self.model, self._val_loader(self.val_dataset), runtime)
        return {f"val_{key}": value for key, value in result.items()}

    def final_evaluation(self, runtime: Runtime) -> dict:
        """kNN on the frozen probe features (linear probing with knn_k > 0)."""
        if not isinstance(self.model, LinearProbe) or self.config.knn_k == 0:
            return {}
        reference = build_split(self.config, "train", build_eval_transform(self.config.img_size))
        self.model.eval()
        train_features, train_labels = extract_features(self.model.features, self._val_loader(reference), runtime)
        val_features, val_labels = extract_features(self.model.features, self._val_loader(self.val_dataset),
                                                    runtime)
        return knn_accuracy(train_features, train_labels, val_features, val_labels, num_classes=self.num_classes,
                            k=self.config.knn_k, temperature=self.config.knn_temperature)

    def describe(self) -> dict:
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        return {"num_classes": self.num_classes, "trainable_parameters": trainable, **self.pretrained_info}


def build_task(config: TrainConfig, runtime: Runtime):
    """The task object of ``config.section``."""
    if isinstance(config, PretrainConfig):
        return PretrainTask(config, runtime)
    return ClassifierTask(config, runtime)
