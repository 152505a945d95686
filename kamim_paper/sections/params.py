"""The parameters of each section notebook: frozen dataclasses whose keys are declared and checked like the training
configuration's.

Each field is one name in the notebook's ``parameters`` cell, declared with :func:`kamim_lib.plugins.options.param`
(type, help, choices, bounds), so the checks of :mod:`kamim_lib.config.checks` (types, choices with a close match,
bounds, distinct lists) apply here exactly as to ``kamim pretrain --set``; what relates several keys is each class's
``invariant_problems``. A value is checked here, once, at the boundary: the code a notebook calls trusts it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kamim_lib.analysis.token_tsne import TSNE_INITS
from kamim_lib.config import DEVICES
from kamim_lib.config.checks import range_problems, type_problems
from kamim_lib.config.schema import PSS_SCHEDULES, PSS_SCORERS
from kamim_lib.data import list_datasets
from kamim_lib.keypoints import BACKENDS, DETECTORS, MAP_MODES
from kamim_lib.masking.attention import ATTMASK_MODES
from kamim_lib.methods import list_methods
from kamim_lib.methods.simmim import TARGETS
from kamim_lib.models import list_models
from kamim_lib.plugins.options import param
from kamim_lib.sample_photos import PHOTO_NAMES
from kamim_paper.experiments.analysis_inputs import ANALYSIS_TRANSFORMS
from kamim_paper.experiments.analysis_models import ANALYSIS_DEVICES, check_checkpoint_labels
from kamim_paper.experiments.masking_grid import masking_arms, masking_variants, pixel_target_methods
from kamim_paper.experiments.peers import (PEER_METHODS, PEER_SETTINGS, REFERENCE, model_patch_size, peer_variant,
                                           pss_variant)
from kamim_paper.experiments.reconstruction_scores import RECONSTRUCTION_DATA
from kamim_paper.experiments.runs import sweep_variants
from kamim_paper.experiments.training import PROTOCOLS, check_training_setup
from kamim_paper.locations import list_profiles



class ParamsError(ValueError):
    """A notebook's parameters break their declarations or invariants; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(joined(self.problems))


def joined(problems: list[str]) -> str:
    """One problem as it is; several numbered, one per line."""
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems:" + "".join(f"\n    {number}. {problem}"
                                                   for number, problem in enumerate(problems, 1))


def _collect(problems: list[str], check: Callable, *args, **kwargs) -> None:
    """Run a check that raises ValueError and add its message to ``problems``."""
    try:
        check(*args, **kwargs)
    except ValueError as error:
        problems.append(str(error))


def _profile_problem(profile: str) -> str | None:
    """A profile in params/ by name, or a profile file by path (any name: `kamim reproduce --profile PATH` passes
    the file's absolute path)."""
    if profile.endswith((".yaml", ".yml")) or profile in list_profiles():
        return None
    return (f"profile={profile!r} is not supported; choose one of {', '.join(map(repr, list_profiles()))}, or give "
            "the path of a profile file (*.yaml).")


def _divisible_problem(name: str, value: int, divisor_name: str, divisor: int) -> str | None:
    return None if value % divisor == 0 else f"{name}={value} must be divisible by {divisor_name}={divisor}."


def _positions_problem(name: str, positions: list[int] | None, num_images: int) -> str | None:
    """None, or a non-empty list of distinct positions 0 … num_images − 1 among the analysed images."""
    if positions is None or all(position < num_images for position in positions):
        return None
    return (f"{name}={positions!r} must be positions 0 … {num_images - 1} among the analysed images "
            f"(num_images={num_images}).")


@dataclass(frozen=True)
class SectionParams:
    """The checks every notebook's parameters go through: each key's declaration (:mod:`kamim_lib.config.checks`),
    then, when every key is valid on its own, the section's ``invariant_problems``; every problem in one
    :class:`ParamsError`."""

    def __post_init__(self) -> None:
        problems = type_problems(self)
        if not problems:
            problems = range_problems(self)
        if not problems:
            problems = self.invariant_problems()
        if problems:
            raise ParamsError(problems)

    def invariant_problems(self) -> list[str]:
        """What relates several keys (subclasses extend it); one line per problem."""
        return []


def _profile_param():
    return param("smoke", "the profile these parameters belong to: a name in params/ or a profile file's path; "
                          "outputs go to results/<profile>/", identity=False)


def _output_dir_param():
    return param(None, "where the section's outputs go; none = results/<profile>/ (runs/notebooks/<profile>/ for an "
                       "interactive run)", identity=False)


def _force_param(what: str):
    return param(False, f"recompute {what} even when it exists", identity=False)


@dataclass(frozen=True)
class MethodParams(SectionParams):
    """01_method: the keypoint-weighting figure on bundled photos."""

    profile: str = _profile_param()
    photos: list[str] = param(["astronaut", "chelsea", "coffee", "rocket"], "bundled photos to show",
                              choices=PHOTO_NAMES, distinct=True)
    img_size: int = param(192, "side the photos are resized to, in pixels", minimum=1)
    detector: str = param("fast", "keypoint detector", choices=DETECTORS)
    mode: str = param("faithful", "how keypoints become a density map", choices=MAP_MODES)
    backend: str = param("opencv", "keypoint detection backend", choices=BACKENDS)
    weight_patch_size: int = param(8, "w_ps: side of the cells keypoints are counted in, in pixels", minimum=1)
    temperature: float = param(0.25, "T of the softmax over cell densities", minimum=0, exclusive_minimum=True)
    mask_patch_size: int = param(32, "side of the SimMIM mask cells, in pixels", minimum=1)
    model_patch_size: int = param(16, "the ViT's patch side, in pixels", minimum=1)
    mask_ratio: float = param(0.6, "share of mask cells masked", minimum=0, exclusive_minimum=True, maximum=1,
                              exclusive_maximum=True)
    seed: int = param(0, "seed of the masks", minimum=0)
    output_dir: str | None = _output_dir_param()
    force: bool = _force_param("the figure")

    def invariant_problems(self) -> list[str]:
        problems = [_profile_problem(self.profile),
                    _divisible_problem("img_size", self.img_size, "weight_patch_size", self.weight_patch_size),
                    _divisible_problem("img_size", self.img_size, "mask_patch_size", self.mask_patch_size),
                    _divisible_problem("mask_patch_size", self.mask_patch_size, "model_patch_size",
                                       self.model_patch_size)]
        return [problem for problem in problems if problem is not None]


# --- Analysis notebooks (07–10, SPEC §3): SimMIM vs KAMIM vs a random-init baseline. -------------------------


@dataclass(frozen=True)
class AnalysisParams(SectionParams):
    """Parameters shared by the analysis notebooks. ``kamim_paper.experiments.analysis_models`` reads the
    checkpoints (this project's, the original's released HF files, MoCo v3's); a random-init baseline (seeded by
    ``seed``) is always added."""

    profile: str = _profile_param()
    model: str | None = param(None, "registry model name; none = the model of this profile's pretraining record",
                              choices=list_models)
    checkpoints: dict | None = param(None, "label -> checkpoint path, any number; none = every run of this "
                                           "profile's pretraining record, labelled by method; a none path = that "
                                           "label's recorded run")
    dataset: str = param("digits", "data set of the analysis images", choices=list_datasets)
    data_root: str | None = param(None, "the data set's folder (none: embedded data sets)", identity=False)
    analysis_data_root: str | None = param(None, "the analysis images' root when they are not under data_root (the "
                                                 "paper profile: Imagenette-160 while data_root is ImageNet); none = "
                                                 "data_root", identity=False)
    analysis_transform: str = param("eval", "eval (this project's evaluation transform on a seeded random subset) or "
                                            "original (the original notebooks': timm's eval transform, resize "
                                            "⌊S/0.875⌋ bilinear + centre crop S, on the first images of their "
                                            "per-class 1/64 subsample)", choices=ANALYSIS_TRANSFORMS)
    split: str = param("val", "split of the analysis images", choices=("train", "val"))
    num_images: int = param(32, "images analysed (a seeded random subset; all of the original's selection when it "
                                "holds fewer)", minimum=1)
    batch_size: int = param(32, "images per forward pass", minimum=1, identity=False)
    seed: int = param(0, "which images, and the random-init baseline's initialisation", minimum=0)
    device: str = param("auto", "where the models run", choices=ANALYSIS_DEVICES, identity=False)
    output_dir: str | None = _output_dir_param()
    force: bool = _force_param("the section's summary")

    @property
    def images_root(self) -> str | None:
        """Where the analysis images are read from: ``analysis_data_root``, else ``data_root``."""
        return self.analysis_data_root if self.analysis_data_root is not None else self.data_root

    def invariant_problems(self) -> list[str]:
        problems = [problem for problem in [_profile_problem(self.profile)] if problem is not None]
        _collect(problems, check_checkpoint_labels, self.checkpoints)
        return problems


@dataclass(frozen=True)
class AttentionParams(AnalysisParams):
    """07_attention: mean attention distance and NMI per block; attention maps of the last block."""

    head: int = param(0, "the head of the last block whose maps are drawn", minimum=0)
    query: list[int] | None = param(None, "[row, col] of the query token on the token grid; none = the grid centre "
                                          "(the original: [8, 3], its coord_y=8, coord_x=3)", minimum=0)
    num_map_images: int = param(4, "images whose maps are drawn (the first ones), unless map_images is given",
                                minimum=1)
    map_images: list[int] | None = param(None, "positions (0-based) among the analysed images of those whose maps "
                                               "are drawn; none = the first num_map_images (the original: [16, 26, "
                                               "36, 46, 56])", minimum=0, distinct=True)

    def invariant_problems(self) -> list[str]:
        problems = super().invariant_problems()
        if self.query is not None and len(self.query) != 2:
            problems.append(f"query={self.query} must be [row, col] on the token grid (or none for the centre).")
        if self.num_map_images > self.num_images:
            problems.append(f"num_map_images={self.num_map_images} must be <= num_images={self.num_images}.")
        problems += [p for p in [_positions_problem("map_images", self.map_images, self.num_images)] if p]
        return problems


@dataclass(frozen=True)
class FourierParams(AnalysisParams):
    """08_fourier: relative log amplitude of the Fourier-transformed hidden states."""


@dataclass(frozen=True)
class TokensParams(AnalysisParams):
    """09_tokens: token t-SNE of one layer, the joint pre/post-attention PCA of one block, token homogeneity."""

    num_images: int = param(16, "images analysed (a seeded random subset; all of the original's selection when it "
                                "holds fewer)", minimum=1)  # this section's own default
    tsne_layer: int | None = param(None, "hidden state for the t-SNE (0 = embedding output, k = block k); none = "
                                         "the last block (the original: 11)", minimum=0)
    pca_block: int | None = param(None, "block (1 … L) of the pre/post-attention PCA; none = where the models' "
                                        "post-attention token similarity differs most", minimum=1)
    perplexity: float = param(20.0, "t-SNE perplexity (SPEC: 20)", minimum=0, exclusive_minimum=True)
    tsne_init: str = param("pca", "t-SNE initialisation (the original's: random)", choices=TSNE_INITS)
    pca_images: list[int] | None = param(None, "positions (0-based) among the analysed images of those the PCA "
                                               "projects; none = all (the original: [8])", minimum=0, distinct=True)

    def invariant_problems(self) -> list[str]:
        problems = super().invariant_problems()
        return problems + [p for p in [_positions_problem("pca_images", self.pca_images, self.num_images)] if p]


@dataclass(frozen=True)
class ReconstructionParams(AnalysisParams):
    """10_reconstructions: reference / masked / reconstructions and PSNR/SSIM (masked region and full image)."""

    mask_ratio: float = param(0.4, "share of mask cells masked (the same masks for every model, drawn from seed; "
                                   "the paper's reconstruction numbers use 0.4)", minimum=0, exclusive_minimum=True,
                              maximum=1, exclusive_maximum=True)
    mask_patch_size: int = param(32, "side of the SimMIM mask cells, in pixels", minimum=1)
    num_figure_images: int = param(4, "rows of the figure", minimum=1)
    floor_images: int = param(256, "training images averaged into the image-blind floor's mean image", minimum=1)
    reconstruction_data: str = param("analysis", "analysis (the analysis images) or imagenet_val (the original's: "
                                                 "every ImageNet-1K validation image under data_root, squashed to "
                                                 "S x S without antialiasing, in batches, resumable)",
                                     choices=RECONSTRUCTION_DATA)

    def invariant_problems(self) -> list[str]:
        problems = super().invariant_problems()
        if self.num_figure_images > self.num_images:
            problems.append(f"num_figure_images={self.num_figure_images} must be <= num_images={self.num_images}.")
        return problems


# --- Training notebooks (02–06): pretraining, linear probing, fine-tuning and the ablations. ------------------


def _methods_param(default: list[str], choices, help_text: str = "methods to pretrain"):
    return param(default, help_text, choices=choices, distinct=True)


def _seeds_param(default: list[int]):
    return param(default, "engine seeds each variant is trained with; one seed gives every method the same "
                          "initialisation, data order and masks (paired seeds: intervals need at least 2)",
                 minimum=0, distinct=True)


@dataclass(frozen=True)
class TrainingParams(SectionParams):
    """Parameters shared by the training notebooks. Training is never repeated: finished runs are reused by run
    id; ``force`` recomputes the section's summary only."""

    profile: str = _profile_param()
    train_config: str = param("train/smoke.yaml", "the engine configuration file, relative to params/ (e.g. "
                                                  "train/paper.yaml) or absolute")
    train_overrides: list[str] = param([], "key=value applied to every run that has the key, or "
                                           "<command>.key=value for one command (pretrain, linprobe, finetune)")
    data_root: str | None = param(None, "the data set's folder (none: the configuration's own); not part of the "
                                        "run ids", identity=False)
    methods: list[str] = _methods_param(["simmim", "kamim"], list_methods)
    seeds: list[int] = _seeds_param([0, 1, 2, 3, 4])
    device: str = param("auto", "the engine's device", choices=DEVICES, identity=False)
    output_dir: str | None = _output_dir_param()
    force: bool = _force_param("the section's summary")

    # The commands whose configurations the notebook builds (checked up front).
    stages = ("pretrain",)

    @property
    def overrides(self) -> list[str]:
        """``train_overrides`` plus ``data_root=...`` when a data root is given."""
        extra = [f"data_root={self.data_root}"] if self.data_root else []
        return [*self.train_overrides, *extra]

    def invariant_problems(self) -> list[str]:
        problems = [problem for problem in [_profile_problem(self.profile)] if problem is not None]
        if not problems:
            _collect(problems, check_training_setup, self.train_config, self.overrides, self.device,
                     stages=self.stages, variants=self.variant_overrides())
        return problems

    def variant_overrides(self) -> list[tuple[str, ...]]:
        """The overrides of every variant the section trains, each checked as a configuration (by default one
        variant with none: the configuration itself)."""
        return [()]


@dataclass(frozen=True)
class PretrainParams(TrainingParams):
    """02_pretrain: SimMIM and KAMIM pretraining, loss curves, reconstructions of masked validation images."""

    num_reconstruction_images: int = param(4, "validation images reconstructed by each checkpoint (the same images "
                                              "and masks)", minimum=1)
    seed: int = param(0, "which images, and the masks", minimum=0)


@dataclass(frozen=True)
class ProtocolParams(TrainingParams):
    """03_linear_probe / 04_finetune: evaluate each method's pretrained backbone."""

    checkpoints: dict[str, str] = param({}, "method -> absolute path of a checkpoint to evaluate instead of this "
                                            "notebook's own pretraining (e.g. the original's released weights for "
                                            "model=vit_b); {} = pretrain here (or reuse the finished run)")

    def invariant_problems(self) -> list[str]:
        problems = super().invariant_problems()
        for method, path in self.checkpoints.items():
            if method not in self.methods:
                problems.append(f"checkpoints names {method!r}, which is not in methods={self.methods}.")
            # Absolute only: notebooks run with notebooks/ as the working folder.
            elif not Path(path).is_absolute() or not Path(path).exists():
                problems.append(f"checkpoints[{method!r}]={path!r} must be the absolute path of an existing "
                                "checkpoint file, or leave the method out to pretrain it here.")
        return problems


@dataclass(frozen=True)
class LinearProbeParams(ProtocolParams):
    """03_linear_probe: frozen backbone, linear head on block ``probe_layer`` (average pooling), plus kNN."""

    stages = ("pretrain", "linprobe")


@dataclass(frozen=True)
class FinetuneParams(ProtocolParams):
    """04_finetune: the whole network fine-tuned with a linear head on the final-LN features."""

    stages = ("pretrain", "finetune")


#: 05 and 06 also accept "none": pretrain only, measured by the converged probe and the held-out masked L1.
NO_PROTOCOL = "none"


@dataclass(frozen=True)
class KamimVariantsParams(TrainingParams):
    """Shared by 05 and 06: KAMIM variants on paired seeds, each measured by held-out masked L1 and a converged
    probe, and (unless ``protocol`` is "none") also evaluated by the engine's ``protocol`` run."""

    protocol: str = param("linprobe", "none (pretrain only), linprobe or finetune (an engine run per variant and "
                                      "seed besides)", choices=(NO_PROTOCOL, *PROTOCOLS))

    # What the notebook varies, for the message when "kamim" is missing from methods.
    varies = "KAMIM's settings"

    @property
    def stages(self) -> tuple[str, ...]:
        # The linear-probe configuration is always used: its data, block and pooling define the converged probe.
        return ("pretrain", "linprobe") if self.protocol in (NO_PROTOCOL, "linprobe") else \
            ("pretrain", "linprobe", self.protocol)

    @property
    def engine_protocol(self) -> str | None:
        """The protocol to pass to :func:`~kamim_paper.experiments.runs.run_variants` (None: pretrain only)."""
        return None if self.protocol == NO_PROTOCOL else self.protocol

    def invariant_problems(self) -> list[str]:
        if "kamim" not in self.methods:
            return [f"methods={self.methods} must include 'kamim': {self.varies}."]
        return super().invariant_problems()


@dataclass(frozen=True)
class DetectorAblationParams(KamimVariantsParams):
    """05_detector_ablation: KAMIM with each keypoint detector (and SimMIM when "simmim" is in methods)."""

    detectors: list[str] = param(["fast", "sift", "orb"], "keypoint detectors KAMIM is trained with",
                                 choices=DETECTORS, distinct=True)

    varies = "the ablation varies KAMIM's detector"


@dataclass(frozen=True)
class SweepParams(KamimVariantsParams):
    """06_wps_temperature_sweep: KAMIM over weight_patch_sizes x temperatures (SimMIM as a reference row when
    "simmim" is in methods)."""

    weight_patch_sizes: list[int] = param([4, 8], "w_ps values in pixels; each must divide the configured img_size",
                                          minimum=1, distinct=True)
    temperatures: list[float] = param([0.25, 1.0], "T values", minimum=0, exclusive_minimum=True, distinct=True)
    controls: bool = param(True, "also train KAMIM with its weights shuffled within each image and with "
                                 "loss_normalize=weight")

    varies = "the sweep varies KAMIM's w_ps and T"

    def variant_overrides(self) -> list[tuple[str, ...]]:
        # Each w_ps must divide img_size: the engine's configuration says so, naming the variant.
        return [variant.overrides for variant in sweep_variants(self.weight_patch_sizes, self.temperatures)]


# --- 11_masking and 12_peers. -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskingParams(TrainingParams):
    """11_masking: masking arms x weighting methods x targets, each pretrained on every seed, measured by held-out
    masked L1 and a converged probe, and compared with the random arm of the same method and target."""

    methods: list[str] = _methods_param(["simmim"], pixel_target_methods,
                                        "the weightings (methods with a target option)")  # own default
    arms: list[str] = param(["random", "attmask high", "density highest"],
                            "masking arms: random, attmask high|low|hint, density highest|lowest|sample",
                            choices=masking_arms, distinct=True)
    targets: list[str] = param(["pixels"], "reconstruction targets", choices=TARGETS, distinct=True)

    # pretraining, and the linear-probe configuration whose data, block and pooling the probe features use
    stages = ("pretrain", "linprobe")

    def variant_overrides(self) -> list[tuple[str, ...]]:
        # Every cell must be a valid configuration (e.g. AttMask needs a ViT, hint a large enough grid).
        return [variant.overrides for variant in masking_variants(self.arms, self.methods, self.targets)]


@dataclass(frozen=True)
class PeersParams(TrainingParams):
    """12_peers: the peers pretrained on one footing with paired seeds; PSS fine-tuning and its sweep. "simmim" is
    the reference of every paired difference."""

    methods: list[str] = _methods_param(["simmim", "kamim", "attmask", "semanticmim", "kamim+semanticmim"],
                                        PEER_METHODS, "peers to pretrain")  # own default
    seeds: list[int] = _seeds_param([0])  # this section's own default
    attmask_mode: str = param("high", "AttMask's rule for the attmask peer", choices=ATTMASK_MODES)
    peer_settings: str = param("shared", "shared (every peer on SimMIM's masks: 32-px cells at 0.6, pixel targets) "
                                         "or papers (each peer with its own paper's masks and target)",
                               choices=PEER_SETTINGS)
    protocols: list[str] = param(["linprobe", "finetune"], "evaluations of every peer and the random-init baseline",
                                 choices=PROTOCOLS, distinct=True)
    pss_sources: list[str] = param(["simmim", "kamim"], "peers whose backbones are also fine-tuned with PSS",
                                   choices=PEER_METHODS)
    pss_schedule: str = param("cyclic", "PSS drop-ratio schedule",
                              choices=tuple(schedule for schedule in PSS_SCHEDULES if schedule != "none"))
    pss_scorers: list[str] = param(["l1"], "PSS token scorers", choices=PSS_SCORERS, distinct=True)
    sweep_drop_ratios: list[float] = param([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
                                           "drop ratios of the dynamic-inference sweep of the fine-tuned PSS sources",
                                           minimum=0, maximum=1, exclusive_maximum=True)

    @property
    def stages(self) -> tuple[str, ...]:
        return ("pretrain", *self.protocols)

    def invariant_problems(self) -> list[str]:
        problems = []
        if REFERENCE not in self.methods:
            problems.append(f"methods={self.methods} must include {REFERENCE!r}: every difference is paired with it.")
        problems += [f"pss_sources names {source!r}, which is not in methods={self.methods}."
                     for source in self.pss_sources if source not in self.methods]
        if self.pss_sources and "finetune" not in self.protocols:
            problems.append("pss_sources needs 'finetune' in protocols (PSS is compared with the plain fine-tune).")
        return problems or super().invariant_problems()

    def variant_overrides(self) -> list[tuple[str, ...]]:
        patch_size = model_patch_size(self.train_config, self.overrides, self.device)
        settings = {"attmask_mode": self.attmask_mode, "settings": self.peer_settings, "patch_size": patch_size}
        variants = [peer_variant(name, **settings).overrides for name in self.methods]
        return variants + [pss_variant(peer_variant(source, **settings), schedule=self.pss_schedule,
                                       scorer=scorer).overrides
                           for source in self.pss_sources for scorer in self.pss_scorers]


# The parameters of each section's notebook (the notebooks pass these to notebook_parameters; tests check it).
SECTION_PARAMS: dict[str, type] = {
    "method": MethodParams, "pretrain": PretrainParams, "linprobe": LinearProbeParams, "finetune": FinetuneParams,
    "detectors": DetectorAblationParams, "sweep": SweepParams, "attention": AttentionParams,
    "fourier": FourierParams, "tokens": TokensParams, "reconstructions": ReconstructionParams,
    "masking": MaskingParams, "peers": PeersParams,
}


def section_defaults(schema: type) -> dict:
    """The default of every parameter of ``schema`` that has one (a fresh copy of lists and dicts)."""
    return {field.name: field.default if field.default is not dataclasses.MISSING else field.default_factory()
            for field in dataclasses.fields(schema)
            if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING}
