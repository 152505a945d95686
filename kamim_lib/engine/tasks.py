"""What differs between pretraining, fine-tuning and linear probing: the model, the data and the loss.

Each task exposes the same small surface to the one training loop (:mod:`.loop`):

- ``model``: the module whose trainable parameters the optimiser updates (before any DDP wrapping);
- ``train_dataset`` and ``collate``: items ``(transform(image), label)`` and how to batch them into a dict;
- ``train_loss(model, batch, step_seed)``: the scalar loss of one micro-batch already on the device;
- ``evaluate(runtime)``: validation numbers after an epoch ({} for pretraining);
- ``final_evaluation(runtime)``: numbers computed once at the end (kNN for linear probing).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from kamim_lib.config import FinetuneConfig, LinprobeConfig, PretrainConfig, TrainConfig
from kamim_lib.data import (MixupCutmix, PretrainTransform, build_dataset, build_eval_transform,
                            build_finetune_transform, build_probe_transform, pretrain_collate)
from kamim_lib.data.device_pipeline import build_encoded_dataset, decode_crops, encoded_collate, has_image_files
from kamim_lib.masking import build_masking
from kamim_lib.methods import build_method
from kamim_lib.models import model_arch
from kamim_lib.models.pss import TokenDrop, applied_drop_ratio
from kamim_lib.runtime import Runtime, decode_on_device_enabled, loader_kwargs
from kamim_lib.engine.evaluation import evaluate_classifier, extract_features, knn_accuracy
from kamim_lib.engine.heads import FinetuneClassifier, LinearProbe
from kamim_lib.engine.pretrained import load_backbone
from kamim_lib.engine.pss_classifier import TokenDropClassifier
from kamim_lib.engine.sampling import EpochBatchSampler, PositionSeededDataset, mix_seed

# Tags the random stream of grouped MixUp/CutMix draws (mixup_group_size), apart from every other seed.
MIX_GROUP_STREAM = 0x4D4958
from kamim_lib.plugins.lifecycle import TrainingHooks


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
                                world_size=runtime.world_size, shuffle=False, last_batch="shard")
    return DataLoader(PositionSeededDataset(dataset), batch_sampler=sampler, collate_fn=collate,
                      **loader_kwargs(config, runtime.device.type, persistent=False))


def classifier_train_transform(config: FinetuneConfig | LinprobeConfig):
    """The training transform that ``augment`` (and, for "finetune", ``finetune_crop``, ``eval_resize`` and
    ``random_erasing``) selects.

    Returns:
        Callable PIL RGB image -> (3, img_size, img_size) float32, ImageNet-normalised.
    """
    if config.augment == "finetune":
        return build_finetune_transform(config.img_size, crop=config.finetune_crop, resize=config.eval_resize,
                                        random_erasing=config.random_erasing)
    if config.augment == "probe":
        return build_probe_transform(config.img_size)
    return build_eval_transform(config.img_size, resize=config.eval_resize)


class Task(TrainingHooks):
    """The hooks every task offers the loop (:class:`~kamim_lib.plugins.lifecycle.TrainingHooks` plus the epoch);
    the defaults do nothing (fine-tuning and probing need none)."""

    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        """Called at the start of every epoch (0-based), before its first batch."""
        self.epoch = epoch

    def set_micro_batch(self, index: int, accumulation: int) -> None:
        """Called before each micro-batch's ``train_loss``: its index within the epoch (the same on every
        process) and the micro-batches per optimiser step."""
        self.micro_batch, self.accumulation = index, accumulation


class PretrainTask(Task):
    """Masked image modelling with the configured method and masking strategy (``kamim_lib.methods``,
    ``kamim_lib.masking``): crop -> mask (when drawn in the loader) -> the method's loader targets; on the device:
    mask (when drawn there) -> the method's loss. Nothing here depends on which method or strategy runs."""

    section = "pretrain"

    def __init__(self, config: PretrainConfig, runtime: Runtime):
        self.config = config
        self.runtime = runtime
        self.patch_size = model_arch(config.model, img_size=config.img_size).patch_size
        self.method = build_method(config, patch_size=self.patch_size)
        self.masking = build_masking(config, patch_size=self.patch_size)
        self.model = self.method.build_model(config)
        mask_generator = None if self.masking.on_device else self.masking.loader_mask
        transform = PretrainTransform(img_size=config.img_size, mask_generator=mask_generator,
                                      targets=self.method.loader_targets, crop_antialias=config.crop_antialias)
        self.train_dataset = build_split(config, "train", transform)
        self.collate = pretrain_collate
        # decode_on_device: workers ship JPEG bytes and crop boxes; crops (so any per-crop target) exist on the device
        # only, and the method computes its targets there.
        self.decode_on_device = decode_on_device_enabled(
            config.decode_on_device, runtime.device.type, file_based=has_image_files(self.train_dataset),
            detector=self.method.crop_detector())
        if self.decode_on_device:
            self.train_dataset = build_encoded_dataset(self.train_dataset, img_size=config.img_size,
                                                       mask_generator=mask_generator)
            self.collate = encoded_collate
        self.method.prepare(config, runtime, crops_on_device=self.decode_on_device)

    def train_loss(self, model: torch.nn.Module, batch: dict, step_seed: int) -> torch.Tensor:
        if "encoded" in batch:  # decode_on_device
            batch = {**batch, "image": decode_crops(batch["encoded"], self.runtime.device, self.config.img_size)}
        if self.masking.on_device:
            batch = {**batch, "mask": self.masking.device_mask(batch, model, self.runtime, seed=step_seed,
                                                               epoch=self.epoch)}
        return self.method.loss(model, batch, self.runtime, seed=step_seed)

    def attach(self, model: torch.nn.Module) -> None:
        self.masking.attach(model)

    def after_optimizer_step(self, model: torch.nn.Module, step: int, total_steps: int) -> None:
        self.masking.after_optimizer_step(model, step, total_steps)

    def state_dict(self) -> dict:
        return {"masking": self.masking.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.masking.load_state_dict(state.get("masking", {}))

    def evaluate(self, runtime: Runtime) -> dict:
        return {}

    def final_evaluation(self, runtime: Runtime) -> dict:
        return {}

    def describe(self) -> dict:
        return {"encoder_parameters": sum(p.numel() for p in self.model.encoder.parameters()),
                "patch_size": self.patch_size, **self.method.describe(), **self.masking.describe()}


class ClassifierTask(Task):
    """Fine-tuning or linear probing with MixUp/CutMix soft-target cross-entropy (SPEC §1.6)."""

    def __init__(self, config: FinetuneConfig | LinprobeConfig, runtime: Runtime):
        self.config = config
        self.runtime = runtime
        self.section = config.section
        self.backbone, self.pretrained_info = load_backbone(config)
        self.train_dataset = build_split(config, "train", classifier_train_transform(config))
        self.val_dataset = build_split(config, "val", build_eval_transform(config.img_size,
                                                                          resize=config.eval_resize))
        self.num_classes = config.num_classes or int(getattr(self.train_dataset, "num_classes"))
        if isinstance(config, LinprobeConfig):
            self.model = LinearProbe(self.backbone, self.num_classes, layer=config.probe_layer,
                                     pooling=config.pooling, batchnorm=config.probe_batchnorm,
                                     head_init=config.head_init)
        elif config.pss != "none":
            token_drop = TokenDrop(scorer=config.pss_scorer, patch_size=self.backbone.arch.patch_size)
            self.model = TokenDropClassifier(self.backbone, self.num_classes, token_drop=token_drop,
                                             pooling=config.pooling, head_init=config.head_init)
        else:
            self.model = FinetuneClassifier(self.backbone, self.num_classes, pooling=config.pooling,
                                            head_init=config.head_init)
        self.collate = classification_collate
        self.mixing = config.mixup_alpha > 0 or config.cutmix_alpha > 0
        self.process_batch = config.batch_size * runtime.samples_per_process  # images per micro-batch per process
        if config.mixup_group_size is not None and config.mixup_group_size % self.process_batch:
            raise ValueError(f"mixup_group_size={config.mixup_group_size} must be a multiple of this process's "
                             f"micro-batch ({self.process_batch} images: batch_size x devices it drives); set "
                             "mixup_group_size=null to draw per micro-batch")

    def mix_seed(self, step_seed: int) -> int:
        """The seed of this micro-batch's MixUp/CutMix draw: ``step_seed`` (each device micro-batch its own), or
        with ``mixup_group_size`` G one seed per group of G images of the optimiser step, shared by the
        micro-batches (of every process) that make up the group. Micro-batch k of process r holds images
        [(k·W + r)·b, (k·W + r + 1)·b) of the step (W processes, b images each)."""
        group_size = self.config.mixup_group_size
        if group_size is None:
            return step_seed
        step, within = divmod(self.micro_batch, self.accumulation)
        first_image = (within * self.runtime.world_size + self.runtime.rank) * self.process_batch
        return mix_seed(self.config.seed, MIX_GROUP_STREAM, self.epoch, step, first_image // group_size)

    def train_loss(self, model: torch.nn.Module, batch: dict, step_seed: int) -> torch.Tensor:
        images, labels = batch["image"], batch["label"]
        if self.mixing:
            # Seeded by the step position, so a resumed run mixes exactly as the uninterrupted one.
            mixer = MixupCutmix(num_classes=self.num_classes, mixup_alpha=self.config.mixup_alpha,
                                cutmix_alpha=self.config.cutmix_alpha, label_smoothing=self.config.label_smoothing,
                                seed=self.mix_seed(step_seed))
            images, targets = mixer(images, labels)
        with self.runtime.autocast():
            logits = model(images)
        logits = logits.float()
        if not self.mixing:
            return F.cross_entropy(logits, labels, label_smoothing=self.config.label_smoothing)
        return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()

    def after_optimizer_step(self, model: torch.nn.Module, step: int, total_steps: int) -> None:
        """PSS: set the drop ratio of the next optimiser step to the schedule's value at the step just taken
        (PSS sets it after each step, so the first step runs at d = 0)."""
        if not isinstance(self.model, TokenDropClassifier):
            return
        config = self.config
        self.model.set_drop_ratio(applied_drop_ratio(
            config.pss, step, total_steps=total_steps, steps_per_epoch=total_steps // config.epochs,
            start=config.pss_start, end=config.pss_end, quantum=config.pss_quantum))

    def state_dict(self) -> dict:
        """The current PSS drop ratio, so a resumed run continues at the ratio the uninterrupted one uses."""
        return {"pss_drop_ratio": self.model.drop_ratio} if isinstance(self.model, TokenDropClassifier) else {}

    def load_state_dict(self, state: dict) -> None:
        if isinstance(self.model, TokenDropClassifier):
            self.model.set_drop_ratio(float(state.get("pss_drop_ratio", 0.0)))

    def _val_loader(self, dataset: Dataset) -> DataLoader:
        return eval_loader(dataset, self.config, self.runtime, self.collate)

    def evaluate(self, runtime: Runtime) -> dict:
        """Top-1/top-5 on the val split; with PSS always on every token (d = 0), the training ratio restored."""
        with self.model.drop_ratio_set_to(0.0) if isinstance(self.model, TokenDropClassifier) \
                else contextlib.nullcontext():
            result = evaluate_classifier(self.model, self._val_loader(self.val_dataset), runtime,
                                         precision=self.config.eval_precision)
        return {f"val_{key}": value for key, value in result.items()}

    def final_evaluation(self, runtime: Runtime) -> dict:
        """kNN on the frozen probe features (linear probing with knn_k > 0)."""
        if not isinstance(self.model, LinearProbe) or self.config.knn_k == 0:
            return {}
        reference = build_split(self.config, "train", build_eval_transform(self.config.img_size,
                                                                            resize=self.config.eval_resize))
        self.model.eval()
        precision = self.config.eval_precision
        train_features, train_labels = extract_features(self.model.features, self._val_loader(reference), runtime,
                                                        precision=precision)
        val_features, val_labels = extract_features(self.model.features, self._val_loader(self.val_dataset),
                                                    runtime, precision=precision)
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
