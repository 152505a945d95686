"""The training configurations: one frozen dataclass per command (``pretrain``, ``finetune``, ``linprobe``).

Every key is a flat field (so ``--set lr=1e-3`` and papermill parameters map one to one) declared with
:func:`~kamim_lib.config.fields.param`, whose metadata feeds validation and ``kamim <command> --help``.
The defaults are the original's ImageNet-1K protocol (SPEC §1.6); ``params/train/*.yaml`` hold smaller profiles.

Schedule convention: ``epochs`` counts every epoch, warm-up included. The original trains 100 epochs after 10
warm-up epochs (its loop runs ``EPOCHS + warmup_epochs``), so the paper profile sets ``epochs: 110``,
``warmup_epochs: 10``: the LR rises linearly from ``warmup_lr`` to ``lr`` over the warm-up, then follows a cosine
from ``lr`` to ``min_lr`` over the remaining 100 epochs, stepped once per optimiser step.
"""
from __future__ import annotations

import dataclasses
import difflib
import typing

from .coerce import CoercionError, coerce_value, type_name
from .fields import param

DEVICES = ("auto", "cpu", "cuda", "xla")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
METHODS = ("simmim", "kamim")
DETECTORS = ("fast", "sift", "orb")
KEYPOINT_MODES = ("faithful", "points")
KEYPOINTS_ON = ("workers", "device")
LOSS_NORMALIZATIONS = ("mask", "weight")
POOLINGS = ("mean", "cls")
AUGMENTS = ("finetune", "probe", "eval")
# Geometry of the fine-tune augmentation: the original's Resize (no crop) or timm/SimMIM's RandomResizedCrop.
FINETUNE_CROPS = ("resize", "random_resized_crop")
# How device=xla uses several cores: one process driving all of them (SPMD) or one process per core/chip.
XLA_MODES = ("spmd", "multiprocess")
# Models of kamim_lib.models; the registry is asked when it is importable (see _known_models).
MODEL_NAMES = ("vit_nano", "vit_t", "vit_s", "vit_b", "swin_nano", "swin_t", "swin_b")
# The batched torch keypoint backend implements FAST only (SIFT/ORB run with OpenCV in the workers).
DEVICE_KEYPOINT_DETECTORS = ("fast",)
# Special value of `pretrained`: start from random initialisation (the baseline every analysis plots).
SCRATCH = "scratch"


class ConfigError(ValueError):
    """Invalid configuration. ``problems`` lists one line per offending key; the message joins them."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        where = f" in {source}" if source else ""
        if len(self.problems) == 1:
            super().__init__(f"invalid configuration{where}: {self.problems[0]}")
        else:
            super().__init__(f"invalid configuration{where}:\n  - " + "\n  - ".join(self.problems))


def suggest(name: str, known) -> str:
    """' (did you mean 'x'?)' for the closest known name, or ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known_models() -> tuple[str, ...]:
    try:
        from kamim_lib.models import list_models
    except ImportError:
        return MODEL_NAMES
    return tuple(list_models())


def _known_datasets() -> tuple[str, ...] | None:
    try:
        from kamim_lib.data.registry import list_datasets
    except ImportError:
        return None
    return tuple(list_datasets())


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Keys shared by every command. See :func:`kamim_lib.config.describe_config` for the full list."""

    # --- what is trained, on what ---
    model: str = param("vit_b", "model name from kamim_lib.models (vit_nano/swin_nano are CPU-sized)")
    dataset: str = param("imagenet", "data set name from kamim_lib.data.list_datasets() (digits is embedded)")
    data_root: str | None = param(None, "folder holding the data set (not needed for digits/synthetic)",
                                  identity=False)
    dataset_options: dict = param({}, "extra data-set options, e.g. {image_size: 64} for digits")
    img_size: int = param(192, "input side in pixels (square crops)", minimum=1)
    max_train_samples: int | None = param(None, "use only the first N training images (smoke runs)", minimum=1)
    # --- optimisation (SPEC §1.6) ---
    batch_size: int = param(128, "micro-batch per device and step (what fits in memory)", minimum=1)
    effective_batch_size: int | None = param(
        2048, "images per optimiser step over all devices; must be batch_size x devices x an integer, which "
              "becomes the gradient-accumulation count (none: use accum_steps)", minimum=1)
    accum_steps: int = param(1, "gradient-accumulation micro-batches per optimiser step when "
                                "effective_batch_size is none", minimum=1)
    epochs: int = param(110, "total epochs, warm-up included (the original: 100 + 10 warm-up)", minimum=1)
    warmup_epochs: float = param(10.0, "linear warm-up epochs from warmup_lr to lr (fractions allowed)", minimum=0)
    lr: float = param(8e-4, "peak learning rate (after warm-up)", minimum=0, exclusive_minimum=True)
    warmup_lr: float = param(1e-6, "learning rate at the first optimiser step", minimum=0)
    min_lr: float = param(1e-5, "learning rate at the end of the cosine", minimum=0)
    weight_decay: float = param(0.05, "AdamW weight decay", minimum=0)
    betas: tuple[float, float] = param((0.9, 0.999), "AdamW betas [beta1, beta2]")
    no_weight_decay_1d: bool = param(False, "exempt biases, norms, position embeddings and tokens from weight "
                                            "decay (MAE/SimMIM practice; the original decays every parameter)")
    clip_grad: float | None = param(1.0, "clip the global gradient norm to this value (none: no clipping)",
                                    minimum=0, exclusive_minimum=True)
    seed: int = param(0, "base random seed (each rank and sample derive their own from it)", minimum=0)
    # --- execution (not part of the run id) ---
    device: str = param("auto", "auto (cuda if available, else cpu), cpu, cuda or xla; several GPUs: torchrun",
                        choices=DEVICES, identity=False)
    precision: str = param("auto", "auto (bf16 autocast on cuda/xla, fp32 on cpu), fp32, bf16 or fp16 "
                                   "(cuda only, with loss scaling)",
                           choices=PRECISIONS, identity=False)
    xla_mode: str = param("spmd", "how device=xla uses several cores (ignored on cpu/cuda): spmd (one process "
                                  "drives every core, each batch sharded over them; tested on CPU with virtual "
                                  "devices) or multiprocess (torch_xla.launch starts one replica per core, "
                                  "xm all-reduces the gradients, rank 0 saves; tested here with one process "
                                  "only)", choices=XLA_MODES, identity=False)
    num_workers: int = param(4, "DataLoader worker processes per device (0: load in the main process)",
                             minimum=0, identity=False)
    num_threads: int | None = param(None, "torch CPU threads of each training process (none: torch's default); "
                                           "1 is fastest for tiny models on busy machines", minimum=1,
                                    identity=False)
    eval_batch_size: int | None = param(None, "evaluation batch size (none: batch_size)", minimum=1, identity=False)
    deterministic: bool = param(False, "use deterministic kernels (slower; for exact resume tests)", identity=False)
    # --- outputs ---
    out_dir: str = param("results", "run directories go to out_dir/<command>/<run_id>/", identity=False)
    run_name: str | None = param(None, "readable prefix of the run id (default: method-model-dataset)")
    checkpoint_dir: str | None = param(None, "where checkpoints go (default: <run_dir>/checkpoints)",
                                       identity=False)
    checkpoint_every_steps: int = param(0, "also save a resumable checkpoint every N optimiser steps "
                                           "(0: at the end of each epoch only)", minimum=0, identity=False)
    resume: bool = param(True, "continue from the run's last checkpoint when one exists", identity=False)
    log_every_steps: int = param(20, "optimiser steps between progress-bar updates and (on XLA) loss checks",
                                 minimum=1, identity=False)
    progress: bool = param(True, "show a tqdm progress bar", identity=False)
    progress_interval: float = param(5.0, "minimum seconds between progress-bar refreshes", minimum=0,
                                     identity=False)

    def __post_init__(self) -> None:
        problems = _type_problems(self)
        if not problems:
            problems = _range_problems(self) + self._invariant_problems()
        if problems:
            raise ConfigError(problems)

    # Subclasses extend this with their own cross-key checks.
    def _invariant_problems(self) -> list[str]:
        problems = []
        known_models = _known_models()
        if self.model not in known_models:
            problems.append(f"model={self.model!r} is not a known model; choose one of "
                            f"{', '.join(known_models)}{suggest(self.model, known_models)}")
        known_datasets = _known_datasets()
        if known_datasets is not None and self.dataset not in known_datasets:
            problems.append(f"dataset={self.dataset!r} is not a known data set; choose one of "
                            f"{', '.join(known_datasets)}{suggest(self.dataset, known_datasets)}")
        if self.warmup_epochs >= self.epochs:
            problems.append(f"warmup_epochs={self.warmup_epochs} must be smaller than epochs={self.epochs}")
        if self.warmup_lr > self.lr:
            problems.append(f"warmup_lr={self.warmup_lr} must not exceed lr={self.lr}")
        if self.min_lr > self.lr:
            problems.append(f"min_lr={self.min_lr} must not exceed lr={self.lr}")
        if not all(0 <= beta < 1 for beta in self.betas):
            problems.append(f"betas={list(self.betas)} must both lie in [0, 1)")
        if self.effective_batch_size is not None:
            if self.accum_steps != 1:
                problems.append(f"set either effective_batch_size ({self.effective_batch_size}) or accum_steps "
                                f"({self.accum_steps}), not both; effective_batch_size=none uses accum_steps")
            elif self.effective_batch_size % self.batch_size:
                problems.append(f"effective_batch_size={self.effective_batch_size} must be a multiple of "
                                f"batch_size={self.batch_size}")
        if self.run_name is not None and (not self.run_name or "/" in self.run_name or self.run_name in (".", "..")):
            problems.append(f"run_name={self.run_name!r} must be a non-empty name without '/'")
        return problems

    @property
    def section(self) -> str:
        """The command this configuration belongs to: "pretrain", "finetune" or "linprobe"."""
        return _SECTION_OF[type(self)]


@dataclasses.dataclass(frozen=True, kw_only=True)
class PretrainConfig(TrainConfig):
    """``kamim pretrain``: SimMIM or KAMIM masked image modelling (SPEC §1)."""

    method: str = param("kamim", "simmim (plain masked L1) or kamim (keypoint-weighted masked L1)",
                        choices=METHODS)
    mask_patch_size: int = param(32, "mask cell side s in pixels; img_size % s == 0 and s % model patch == 0",
                                 minimum=1)
    mask_ratio: float = param(0.6, "fraction of mask cells masked per image, in (0, 1)", minimum=0,
                              exclusive_minimum=True)
    detector: str = param("fast", "keypoint detector for kamim weights", choices=DETECTORS)
    keypoint_mode: str = param("faithful", "keypoint map: faithful (the original's rings and BGR quirk) or points",
                               choices=KEYPOINT_MODES)
    weight_patch_size: int = param(8, "w_ps: keypoint-density patch side in pixels (8, 16 or 32 in the paper); "
                                      "must divide img_size", minimum=1)
    temperature: float = param(0.25, "T > 0 in W = exp((density - min density) / T)", minimum=0,
                               exclusive_minimum=True)
    keypoints_on: str = param("workers", "where kamim weights are computed: workers (OpenCV, any detector) or "
                                         "device (batched torch FAST next to the model)", choices=KEYPOINTS_ON)
    loss_normalize: str = param("mask", "masked-L1 denominator: mask (3*sum M, the original) or weight "
                                        "(3*sum M*w, a weighted mean)", choices=LOSS_NORMALIZATIONS)
    final_norm: bool = param(True, "keep the encoder's final LayerNorm (the original/HF default; Microsoft's "
                                   "SimMIM ViT drops it)")
    shuffle_weights: bool = param(False, "kamim control: permute each image's patch weights at random across its "
                                         "patches (same values, no spatial link to the keypoints)")

    def _invariant_problems(self) -> list[str]:
        problems = super()._invariant_problems()
        if not self.mask_ratio < 1:
            problems.append(f"mask_ratio={self.mask_ratio} must be in (0, 1)")
        if self.img_size % self.mask_patch_size:
            problems.append(f"img_size={self.img_size} must be divisible by mask_patch_size="
                            f"{self.mask_patch_size} (e.g. 192 and 32)")
        patch = model_patch_size(self.model)
        if patch is not None and self.mask_patch_size % patch:
            problems.append(f"mask_patch_size={self.mask_patch_size} must be divisible by the patch size {patch} "
                            f"of model={self.model!r}")
        if patch is not None and self.img_size % patch:
            problems.append(f"img_size={self.img_size} must be divisible by the patch size {patch} of "
                            f"model={self.model!r}")
        if self.img_size % self.weight_patch_size:
            problems.append(f"weight_patch_size={self.weight_patch_size} must divide img_size={self.img_size}")
        if self.method == "kamim" and self.keypoints_on == "device" \
                and self.detector not in DEVICE_KEYPOINT_DETECTORS:
            problems.append(f"keypoints_on='device' supports detector in {DEVICE_KEYPOINT_DETECTORS} only, got "
                            f"detector={self.detector!r}; use keypoints_on='workers' for SIFT/ORB")
        return problems


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ClassifierConfig(TrainConfig):
    """Keys shared by fine-tuning and linear probing (SPEC §1.6; the original's settings as defaults)."""

    lr: float = param(5e-3, "peak learning rate (after warm-up)", minimum=0, exclusive_minimum=True)
    warmup_lr: float = param(2.5e-6, "learning rate at the first optimiser step", minimum=0)
    min_lr: float = param(2.5e-6, "learning rate at the end of the cosine", minimum=0)
    clip_grad: float | None = param(None, "clip the global gradient norm to this value (none: no clipping, "
                                          "the original's fine-tune)", minimum=0, exclusive_minimum=True)
    pretrained: str | None = param(
        None, "checkpoint file or run directory to start from; 'scratch' for random initialisation; none: the "
              "pretrain run of the same config (same file, same --set for pretrain keys)")
    max_eval_samples: int | None = param(None, "use only the first N validation images", minimum=1)
    num_classes: int | None = param(None, "classifier outputs (none: the data set's class count)", minimum=1)
    pooling: str = param("mean", "token pooling: mean over patch tokens (CLS dropped) or cls (ViT only)",
                         choices=POOLINGS)
    augment: str = param("finetune", "training transform: finetune (finetune_crop geometry, "
                                     "TrivialAugmentWide, RandomErasing), probe (RandomResizedCrop + flip) or "
                                     "eval (none)", choices=AUGMENTS)
    finetune_crop: str = param("resize", "geometry of augment=finetune: resize (Resize + CenterCrop to img_size, "
                                         "no random crop or flip: the original's fine-tune transform) or "
                                         "random_resized_crop (RandomResizedCrop scale 0.08-1 + horizontal flip, "
                                         "the timm/SimMIM recipe); ignored by augment=probe/eval",
                               choices=FINETUNE_CROPS)
    mixup_alpha: float = param(1.0, "MixUp Beta(alpha, alpha) (0: off)", minimum=0)
    cutmix_alpha: float = param(1.0, "CutMix Beta(alpha, alpha) (0: off)", minimum=0)
    label_smoothing: float = param(0.0, "label smoothing of the (soft) targets (the original: 0)", minimum=0)
    drop_path_rate: float = param(0.0, "stochastic depth of the encoder blocks while training the classifier "
                                       "(the original: 0; SimMIM fine-tunes with 0.1)", minimum=0)
    eval_every_epochs: int = param(1, "evaluate top-1/top-5 on the val split every N epochs (and at the end)",
                                   minimum=1, identity=False)

    def _invariant_problems(self) -> list[str]:
        problems = super()._invariant_problems()
        if not self.drop_path_rate < 1:
            problems.append(f"drop_path_rate={self.drop_path_rate} must be in [0, 1)")
        if not self.label_smoothing < 1:
            problems.append(f"label_smoothing={self.label_smoothing} must be in [0, 1)")
        if self.pretrained is not None and not self.pretrained.strip():
            problems.append("pretrained must be a path, 'scratch' or none, got an empty string")
        if self.pooling == "cls" and self.model.startswith("swin"):
            problems.append(f"pooling='cls' needs a model with a CLS token; model={self.model!r} has none "
                            "(use pooling='mean')")
        return problems


@dataclasses.dataclass(frozen=True, kw_only=True)
class FinetuneConfig(_ClassifierConfig):
    """``kamim finetune``: the whole network is trained with a linear head on the final-LN features."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinprobeConfig(_ClassifierConfig):
    """``kamim linprobe``: frozen backbone, linear head on an intermediate block's tokens, plus kNN."""

    probe_layer: int = param(8, "block whose output is probed (1-based, no LayerNorm; -1: the last); the "
                                "original probes block 8 of 12")
    probe_batchnorm: bool = param(False, "put a BatchNorm without affine before the linear head (MAE/SimMIM "
                                         "probes do; the original does not)")
    knn_k: int = param(20, "neighbours of the kNN evaluation on frozen features (0: skip kNN)", minimum=0)
    knn_temperature: float = param(0.07, "temperature of the kNN vote weights exp(cos / T)", minimum=0,
                                   exclusive_minimum=True)

    def _invariant_problems(self) -> list[str]:
        problems = super()._invariant_problems()
        if self.probe_layer == 0:
            problems.append("probe_layer=0 is the patch embedding, not a block; use 1..depth or -1 for the last")
        return problems


SECTIONS: dict[str, type[TrainConfig]] = {"pretrain": PretrainConfig, "finetune": FinetuneConfig,
                                          "linprobe": LinprobeConfig}
_SECTION_OF = {cls: name for name, cls in SECTIONS.items()}


def model_patch_size(model: str) -> int | None:
    """The encoder patch size of a registry model name (16 for ViTs, 4 for Swins), None if unknown."""
    try:
        from kamim_lib.models import model_arch
    except ImportError:
        model_arch = None
    if model_arch is not None:
        try:
            return model_arch(model).patch_size
        except ValueError:
            return None
    return {"vit": 16, "swin": 4}.get(model.split("_")[0])


def config_fields(cls: type[TrainConfig]) -> dict[str, tuple[dataclasses.Field, typing.Any]]:
    """``{key: (field, resolved type)}`` of a configuration class, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {field.name: (field, hints[field.name]) for field in dataclasses.fields(cls)}


def _type_problems(config: TrainConfig) -> list[str]:
    problems = []
    for name, (field, annotation) in config_fields(type(config)).items():
        value = getattr(config, name)
        try:
            coerced = coerce_value(value, annotation)
        except CoercionError as error:
            problems.append(f"{name}: {error} (type {type_name(annotation)})")
            continue
        if coerced != value or type(coerced) is not type(value):
            # int -> float, list -> tuple: store the canonical form so equal configs serialise equally.
            object.__setattr__(config, name, coerced)
    return problems


def _range_problems(config: TrainConfig) -> list[str]:
    problems = []
    for name, (field, _) in config_fields(type(config)).items():
        value = getattr(config, name)
        choices = field.metadata.get("choices")
        if choices is not None and value not in choices:
            problems.append(f"{name}={value!r} is not allowed; choose one of {', '.join(map(str, choices))}"
                            f"{suggest(str(value), choices)}")
        minimum = field.metadata.get("minimum")
        if minimum is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != value or (value <= minimum if field.metadata.get("exclusive_minimum") else value < minimum):
                relation = ">" if field.metadata.get("exclusive_minimum") else ">="
                problems.append(f"{name}={value!r} must be {relation} {minimum}")
    return problems
