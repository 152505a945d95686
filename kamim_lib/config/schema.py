"""The training configurations: one frozen dataclass per command (``pretrain``, ``finetune``, ``linprobe``).

Every key is a flat field (so ``--set lr=1e-3`` and papermill parameters map one to one) declared with
:func:`~kamim_lib.plugins.options.param`, whose metadata feeds validation and ``kamim <command> --help``.
The defaults are the original's ImageNet-1K protocol (SPEC §1.6); ``params/train/*.yaml`` hold smaller profiles.

Schedule convention: ``epochs`` counts every epoch, warm-up included. The original trains 100 epochs after 10
warm-up epochs (its loop runs ``EPOCHS + warmup_epochs``), so the paper profile sets ``epochs: 110``,
``warmup_epochs: 10``: the LR rises linearly from ``warmup_lr`` to ``lr`` over the warm-up; with the default
``lr_schedule: original`` a cosine from ``lr`` to ``min_lr`` over ``epochs - warmup_epochs`` = 100 epochs runs from the
first step underneath the warm-up (as timm's CosineLRScheduler without warmup_prefix), and the last 10 epochs stay at
``min_lr``; stepped once per optimiser step (see :mod:`kamim_lib.engine.schedule`).
"""
from __future__ import annotations

import dataclasses
import typing

# Choices owned by the modules that implement them (config reads them there: data flows config -> data -> model).
from kamim_lib.data.classify_transforms import EVAL_RESIZES, FINETUNE_CROPS, RANDOM_ERASINGS
from kamim_lib.masking.registry import MASKING_STRATEGIES as MASKING_REGISTRY
from kamim_lib.methods.registry import METHODS as METHOD_REGISTRY
from kamim_lib.models.pss import PSS_SCHEDULES, PSS_SCORERS
from kamim_lib.plugins.options import param

from kamim_lib.config.checks import ConfigError, range_problems, suggest, type_problems
from kamim_lib.data.registry import list_datasets
from kamim_lib.models.registry import list_models, model_patch_size
from kamim_lib.runtime.choices import DEVICES, PRECISIONS, SWITCHES, XLA_MODES

POOLINGS = ("mean", "cls")
AUGMENTS = ("finetune", "probe", "eval")
# Initialisation of the classifier's linear head: PyTorch's nn.Linear default (the original) or trunc-normal std 0.01
# with a zero bias (MAE/SimMIM fine-tuning).
HEAD_INITS = ("pytorch", "trunc_normal")
# Precision of validation forwards: fp32 (the original) or the training autocast (bf16 on cuda/xla).
EVAL_PRECISIONS = ("fp32", "autocast")
# Learning-rate shape: the original's (timm CosineLRScheduler without warmup_prefix: the cosine runs from step 0
# over epochs - warmup_epochs, underneath the warm-up, then min_lr) or a cosine from the end of the warm-up to the
# last step.
LR_SCHEDULES = ("original", "warmup_then_cosine")
# The plug-in registries whose selected entry's options a pretraining run uses (key: `method`, `masking`).
PLUGIN_REGISTRIES = (METHOD_REGISTRY, MASKING_REGISTRY)
# Experiment trackers that mirror metrics.jsonl (kamim_lib.engine.tracking).
LOGGERS = ("none", "tensorboard")
# Special value of `pretrained`: start from random initialisation (the baseline every analysis plots).
SCRATCH = "scratch"


def _known_models() -> tuple[str, ...]:
    return tuple(list_models())


def _known_datasets() -> tuple[str, ...]:
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
    lr_schedule: str = param("original", "learning-rate shape, stepped per optimiser step: original (timm's "
                                         "CosineLRScheduler as the original uses it: the cosine runs from step 0 "
                                         "over epochs - warmup_epochs epochs underneath the linear warm-up, then "
                                         "stays at min_lr) or warmup_then_cosine (the cosine starts at the end of "
                                         "the warm-up and ends at the last step)", choices=LR_SCHEDULES)
    drop_last: bool = param(False, "drop the incomplete last batch of each training epoch (false: keep it, as the "
                                   "original: 626 optimiser steps per ImageNet epoch at 2048 instead of 625; the "
                                   "short batch is cut to a multiple of the device count, and on XLA it compiles "
                                   "one more graph shape)")
    seed: int = param(0, "base random seed (each rank and sample derive their own from it)", minimum=0)
    # --- execution (not part of the run id) ---
    device: str = param("auto", "auto (xla on a TPU runtime or with PJRT_DEVICE set and torch_xla installed, else "
                                "cuda if available, else cpu), cpu, cuda or xla; several GPUs: torchrun",
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
    # --- speed (not part of the run id; kamim_lib.runtime.speed, benchmarks/device_suite.py measures them) ---
    compile: bool = param(False, "torch.compile the model (inductor; the first steps pay the compilation)",
                          identity=False)
    compile_keypoints: bool = param(False, "torch.compile the on-device keypoint-weight function "
                                           "(keypoints_on=device)", identity=False)
    tf32: str = param("auto", "TF32 matmuls for the fp32 matmuls left under autocast: auto (on with cuda), on, "
                              "off", choices=SWITCHES, identity=False)
    fused_optimizer: str = param("auto", "fused AdamW kernel: auto (on with cuda), on, off", choices=SWITCHES,
                                 identity=False)
    pin_memory: str = param("auto", "page-locked loader batches for non-blocking host-to-GPU copies: auto (on "
                                    "with cuda), on, off", choices=SWITCHES, identity=False)
    prefetch_factor: int | None = param(None, "batches each loader worker prepares ahead (none: torch's 2)",
                                        minimum=1, identity=False)
    persistent_workers: bool = param(True, "keep the training loader's workers alive between epochs",
                                     identity=False)
    # --- outputs ---
    out_dir: str = param("results", "run directories go to out_dir/<command>/<run_id>/", identity=False)
    run_name: str | None = param(None, "readable prefix of the run id (default: method-model-dataset)")
    checkpoint_dir: str | None = param(None, "where checkpoints go (default: <run_dir>/checkpoints)",
                                       identity=False)
    checkpoint_every_steps: int = param(0, "also save a resumable checkpoint every N optimiser steps "
                                           "(0: at the end of each epoch only)", minimum=0, identity=False)
    resume: bool = param(True, "continue from the run's last checkpoint when one exists", identity=False)
    keep_training_state: bool = param(False, "keep the optimiser, schedule and scaler state in the checkpoint of a "
                                             "finished run (false: weights and progress only; a finished run never "
                                             "trains again, and AdamW's two moment buffers make a ViT-B "
                                             "checkpoint 1.04 GB instead of 0.35 GB)", identity=False)
    log_every_steps: int = param(20, "optimiser steps between progress-bar updates and (on XLA) loss checks",
                                 minimum=1, identity=False)
    progress: bool = param(True, "show a tqdm progress bar", identity=False)
    progress_interval: float = param(5.0, "minimum seconds between progress-bar refreshes", minimum=0,
                                     identity=False)
    logger: str = param("none", "experiment tracker besides metrics.jsonl: none or tensorboard (event files in "
                                "<run_dir>/tensorboard/; needs the tensorboard package)", choices=LOGGERS,
                        identity=False)

    def __post_init__(self) -> None:
        problems = type_problems(self)
        if not problems:
            problems = range_problems(self) + self._invariant_problems()
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
class _PretrainKeys(TrainConfig):
    """The generic keys of ``kamim pretrain``; :data:`PretrainConfig` adds every plug-in's options to them."""

    mask_patch_size: int = param(32, "mask cell side s in pixels; img_size % s == 0 and s % model patch == 0",
                                 minimum=1)
    crop_antialias: bool = param(False, "antialias the RandomResizedCrop resampling of the pretraining crop "
                                        "(false: the original's antialias=False on the uint8 image, which is "
                                        "also what the keypoints are detected on)")
    mask_ratio: float = param(0.6, "fraction of mask cells masked per image, in (0, 1)", minimum=0,
                              exclusive_minimum=True)
    final_norm: bool = param(True, "keep the encoder's final LayerNorm (the original/HF default; Microsoft's "
                                   "SimMIM ViT drops it)")
    decode_on_device: str = param("off", "decode JPEGs and crop/flip on the training device (torchvision's GPU "
                                         "JPEG decoder; folder data sets; kamim weights then come from the device "
                                         "too): on, off; auto = off (on an H100 it was slower than CPU decoding, "
                                         "and 4:2:0 JPEGs decode up to ~50 grey levels off libjpeg's)",
                                  choices=SWITCHES, identity=False)

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
        if not problems:  # the plug-ins' own checks assume a sane geometry and known names
            for registry in PLUGIN_REGISTRIES:
                name = getattr(self, registry.config_key)
                if name in registry.names():  # an unknown name is already reported by its choices
                    problems += registry.get(name).option_problems(self)
        return problems


def _compose_pretrain_config() -> type:
    """``PretrainConfig``: the generic keys, the plug-in selectors and every registered plug-in's options.

    The keys stay flat (``--set temperature=0.5``); :func:`inactive_option_keys` says which of them a given run
    ignores, so its run id does not cover them.
    """
    extra = []
    declared: dict[str, dataclasses.Field] = {}
    for registry, what in ((METHOD_REGISTRY, "pretraining objective"), (MASKING_REGISTRY, "which tokens are masked")):
        names = registry.names()
        summary = {name: getattr(registry.get(name), "summary", "") for name in names}
        extra.append((registry.config_key, str,
                      param(registry.default, f"{what}: " + "; ".join(f"{name}" + (f" ({text})" if text else "")
                                                          for name, text in summary.items()),
                            choices=registry.live_names())))
        for key, field in registry.all_option_fields().items():
            if key in declared and declared[key].metadata != field.metadata:
                raise ValueError(f"option {key!r} is declared differently by a method and a masking strategy")
            declared[key] = field
    base_keys = {field.name for field in dataclasses.fields(_PretrainKeys)}
    for key, field in declared.items():
        if key in base_keys:
            raise ValueError(f"plug-in option {key!r} collides with a generic pretrain key; rename it")
        resolved = _option_type(key)
        copy = dataclasses.field(default=field.default, metadata=field.metadata) \
            if field.default_factory is dataclasses.MISSING \
            else dataclasses.field(default_factory=field.default_factory, metadata=field.metadata)
        extra.append((key, resolved, copy))
    cls = dataclasses.make_dataclass("PretrainConfig", extra, bases=(_PretrainKeys,), frozen=True, kw_only=True)
    cls.__module__ = __name__
    cls.__doc__ = ("``kamim pretrain``: masked image modelling with the method and masking strategy named by "
                   "``method`` and ``masking`` (SPEC §1); every plug-in's options are keys.")
    for registry in PLUGIN_REGISTRIES:
        registry.freeze(field.name for field in dataclasses.fields(cls))
    return cls


def _option_type(key: str):
    """The resolved annotation of plug-in option ``key`` (options modules use postponed annotations)."""
    for registry in PLUGIN_REGISTRIES:
        for name in registry.names():
            options = registry.get(name).Options
            hints = typing.get_type_hints(options)
            if key in hints:
                return hints[key]
    raise KeyError(key)


# Fine-tuning technique keys that change nothing while their technique is off (see inactive_finetune_keys).
PSS_KEYS = ("pss", "pss_scorer", "pss_start", "pss_end", "pss_quantum")


def inactive_finetune_keys(config) -> set[str]:
    """The fine-tuning technique keys that ``config`` does not use (not in its run id): every PSS key while
    ``pss=none``, ``relative_position_bias`` while false, ``mixup_group_size`` while none. Fine-tune runs without them keep the ids they had before
    these keys existed."""
    unused = set()
    if getattr(config, "pss", "none") == "none":
        unused.update(key for key in PSS_KEYS if hasattr(config, key))
    if not getattr(config, "relative_position_bias", True):
        unused.add("relative_position_bias")
    if getattr(config, "mixup_group_size", None) is None:
        unused.add("mixup_group_size")
    return unused


def inactive_option_keys(config) -> set[str]:
    """The plug-in option keys that ``config``'s method and masking strategy do not use (not in its run id)."""
    used = set()
    every = set()
    for registry in PLUGIN_REGISTRIES:
        for name in registry.names():
            keys = set(registry.option_keys(name))
            every |= keys
            if name == getattr(config, registry.config_key):
                used |= keys
    return every - used


PretrainConfig = _compose_pretrain_config()


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ClassifierConfig(TrainConfig):
    """Keys shared by fine-tuning and linear probing (SPEC §1.6; the original's settings as defaults)."""

    lr: float = param(5e-3, "peak learning rate (after warm-up)", minimum=0, exclusive_minimum=True)
    warmup_lr: float = param(2.5e-6, "learning rate at the first optimiser step", minimum=0)
    min_lr: float = param(2.5e-6, "learning rate at the end of the cosine", minimum=0)
    clip_grad: float | None = param(1.0, "clip the global gradient norm to this value (none: no clipping); the "
                                         "original's TPU scripts (the paper's runs) and GPU Swin script clip at 1.0, "
                                         "its GPU ViT script does not", minimum=0, exclusive_minimum=True)
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
    finetune_crop: str = param("resize", "geometry of augment=finetune: resize (the eval_resize geometry, no "
                                         "random crop or flip: the original's fine-tune transform) or "
                                         "random_resized_crop (RandomResizedCrop scale 0.08-1 + horizontal flip, "
                                         "the timm/SimMIM recipe); ignored by augment=probe/eval",
                               choices=FINETUNE_CROPS)
    eval_resize: str = param("squash", "square geometry of evaluation and of finetune_crop=resize: squash "
                                       "(Resize((img_size, img_size)) bilinear without antialias, nothing cropped: "
                                       "the original) or shorter_side_crop (shorter side to img_size, antialiased, "
                                       "then a centre crop)", choices=EVAL_RESIZES)
    random_erasing: str = param("black", "RandomErasing of augment=finetune: black (torchvision's defaults on the "
                                         "uint8 image: p 0.5, scale 0.02-1/3, filled with 0: the original), noise "
                                         "(p 0.25, per-pixel normal noise after normalisation: SimMIM/BEiT) or none",
                                choices=RANDOM_ERASINGS)
    head_init: str = param("pytorch", "initialisation of the linear head: pytorch (nn.Linear's default, the "
                                      "original) or trunc_normal (std 0.01, zero bias: MAE/SimMIM)",
                           choices=HEAD_INITS)
    eval_precision: str = param("fp32", "precision of validation and kNN feature forwards: fp32 (the original) or "
                                        "autocast (the training precision, bf16 on cuda/xla)",
                                choices=EVAL_PRECISIONS)
    mixup_alpha: float = param(1.0, "MixUp Beta(alpha, alpha) (0: off)", minimum=0)
    cutmix_alpha: float = param(1.0, "CutMix Beta(alpha, alpha) (0: off)", minimum=0)
    mixup_group_size: int | None = param(
        None, "images that share one MixUp/CutMix draw (MixUp or CutMix, lambda, box) across micro-batches and "
              "devices: a multiple of the per-process micro-batch that divides effective_batch_size (the "
              "original: 1024, its DataLoader batch); none: each device micro-batch draws its own", minimum=1)
    label_smoothing: float = param(0.0, "label smoothing of the (soft) targets (the original: 0)", minimum=0)
    drop_path_rate: float = param(0.0, "stochastic depth of the encoder blocks while training the classifier "
                                       "(the original: 0; SimMIM fine-tunes with 0.1)", minimum=0)
    eval_every_epochs: int = param(1, "evaluate top-1/top-5 on the val split every N epochs (and at the end)",
                                   minimum=1, identity=False)

    def _invariant_problems(self) -> list[str]:
        problems = super()._invariant_problems()
        group = self.mixup_group_size
        if group is not None and (group % self.batch_size or
                                  (self.effective_batch_size is not None and self.effective_batch_size % group)):
            problems.append(f"mixup_group_size={group} must be a multiple of batch_size={self.batch_size} and "
                            f"divide effective_batch_size={self.effective_batch_size}")
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
    """``kamim finetune``: the whole network is trained with a linear head on the final-LN features.

    The ``pss*`` keys add PSS token dropping (PEERS §3; ``kamim_lib.models.pss``): a drop ratio d per optimiser
    step from a schedule, K = round((1−d)(N+1)) − 1 patch tokens kept by score; validation at d = 0.
    """

    pss: str = param("none", "PSS patch-drop schedule over optimiser steps: none, linear, cosine or cyclic "
                             "(a triangle wave within each epoch, PSS's headline); ViT only", choices=PSS_SCHEDULES)
    pss_scorer: str = param("l1", "which patch tokens PSS keeps: l1 (largest L1 magnitude, PSS's default), l2 "
                                  "(squared L2), random, or keypoints (densest FAST keypoints, KAMIM's prior)",
                            choices=PSS_SCORERS)
    pss_start: float = param(0.8, "PSS drop ratio at the schedule's start (cyclic: at each epoch start)")
    pss_end: float = param(-0.1, "PSS drop ratio at the schedule's end (cyclic: mid-epoch); values outside [0, 1] "
                                 "are clipped after interpolation, so -0.1 holds d = 0 longer")
    pss_quantum: float = param(0.2, "PSS rounds the drop ratio to multiples of this (0.2: d in {0, .2, ..., .8})",
                               minimum=0, exclusive_minimum=True)
    relative_position_bias: bool = param(False, "add a learned relative position bias per ViT block (zero-initialised "
                                                "when the checkpoint has none; PSS's fine-tune uses it)")

    def _invariant_problems(self) -> list[str]:
        problems = super()._invariant_problems()
        vit_only = [key for key, on in (("pss", self.pss != "none"),
                                        ("relative_position_bias", self.relative_position_bias)) if on]
        if vit_only and self.model.startswith("swin"):
            problems.append(f"{' and '.join(vit_only)} need a ViT (one CLS token, a plain token sequence); "
                            f"model={self.model!r} is a Swin, choose a vit_* model or pss=none")
        if self.pss != "none" and self.pss_start <= 0 and self.pss_end <= 0:
            problems.append(f"pss={self.pss!r} with pss_start={self.pss_start} and pss_end={self.pss_end} never "
                            "drops a token; raise pss_start (PSS: 0.8) or set pss=none")
        return problems


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
