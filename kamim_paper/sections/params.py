"""The parameters of each section notebook, as dataclasses checked by ``notebook_parameters``.

Each field is one name in the notebook's ``parameters`` cell; invariants are checked in ``__post_init__``.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from kamim_lib._validation import check_choice, check_choice_list, check_divisible, check_positive
from kamim_paper.locations import list_profiles


def default(value):
    """A dataclass default for a list or dict parameter (each instance gets its own copy)."""
    return dataclasses.field(default_factory=lambda: copy.deepcopy(value))


def _check_profile(profile: str) -> None:
    """A profile in params/ by name, or a profile file by path (any name: `kamim reproduce --profile PATH` passes
    the file's absolute path)."""
    if not profile.endswith((".yaml", ".yml")):
        if profile not in list_profiles():
            raise ValueError(f"profile={profile!r} is not supported; choose one of "
                             f"{', '.join(map(repr, list_profiles()))}, or give the path of a profile file "
                             "(*.yaml).")


@dataclass(frozen=True)
class MethodParams:
    """01_method: the keypoint-weighting figure on bundled photos."""

    profile: str = "smoke"
    photos: list[str] = default(["astronaut", "chelsea", "coffee", "rocket"])
    img_size: int = 192
    detector: str = "fast"
    mode: str = "faithful"
    backend: str = "opencv"
    weight_patch_size: int = 8
    temperature: float = 0.25
    mask_patch_size: int = 32
    model_patch_size: int = 16
    mask_ratio: float = 0.6
    seed: int = 0
    output_dir: str | None = None
    force: bool = False

    def __post_init__(self) -> None:
        from kamim_lib.keypoints import BACKENDS, DETECTORS, MAP_MODES
        from kamim_lib.sample_photos import PHOTO_NAMES

        _check_profile(self.profile)
        for photo in self.photos:
            check_choice("photos", photo, PHOTO_NAMES)
        check_choice("detector", self.detector, DETECTORS)
        check_choice("mode", self.mode, MAP_MODES)
        check_choice("backend", self.backend, BACKENDS)
        check_positive("temperature", self.temperature)
        check_divisible("img_size", self.img_size, "weight_patch_size", self.weight_patch_size)
        check_divisible("img_size", self.img_size, "mask_patch_size", self.mask_patch_size)
        check_divisible("mask_patch_size", self.mask_patch_size, "model_patch_size", self.model_patch_size)


# --- Analysis notebooks (07–10, SPEC §3): SimMIM vs KAMIM vs a random-init baseline. -------------------------


@dataclass(frozen=True)
class AnalysisParams:
    """Parameters shared by the analysis notebooks.

    model: registry name; None = the model of this profile's pretraining record.
    checkpoints: label -> path, any number (``kamim_paper.experiments.analysis_models.load_analysis_checkpoint`` reads this
        project's checkpoints, the original's released HF files and MoCo v3's); None = every run of this profile's
        pretraining record, labelled by method; a None path = that label's recorded run. A random-init
        baseline is always added.
    dataset / data_root / split / num_images / seed: which images (a seeded random subset); ``seed`` also
        initialises the random-init baseline. analysis_data_root: the analysis images' root when they are not
        under data_root (the paper profile: Imagenette-160, while data_root is ImageNet); None = data_root.
    analysis_transform: "eval" (this project's evaluation transform, seeded random subset) or "original" (the
        original notebooks': timm's eval transform, Resize ⌊S/0.875⌋ bilinear (timm's default) + CenterCrop S, on
        the first images of their per-class 1/64 subsample; ``kamim_paper.experiments.analysis_inputs``).
    batch_size: images per forward pass. device: "auto", "cpu" or "cuda".
    output_dir: None = results/<profile>/. force: recompute even when the summary exists.
    """

    profile: str = "smoke"
    model: str | None = None
    checkpoints: dict | None = None
    dataset: str = "digits"
    data_root: str | None = None
    analysis_data_root: str | None = None
    analysis_transform: str = "eval"
    split: str = "val"
    num_images: int = 32
    batch_size: int = 32
    seed: int = 0
    device: str = "auto"
    output_dir: str | None = None
    force: bool = False

    @property
    def images_root(self) -> str | None:
        """Where the analysis images are read from: ``analysis_data_root``, else ``data_root``."""
        return self.analysis_data_root if self.analysis_data_root is not None else self.data_root

    def __post_init__(self) -> None:
        from kamim_paper.experiments.analysis_inputs import ANALYSIS_TRANSFORMS
        from kamim_paper.experiments.analysis_models import ANALYSIS_DEVICES, check_checkpoint_labels
        from kamim_lib.data import list_datasets
        from kamim_lib.models import list_models

        _check_profile(self.profile)
        if self.model is not None:
            check_choice("model", self.model, list_models())
        check_checkpoint_labels(self.checkpoints)
        check_choice("analysis_transform", self.analysis_transform, ANALYSIS_TRANSFORMS)
        check_choice("dataset", self.dataset, list_datasets())
        check_choice("split", self.split, ("train", "val"))
        check_choice("device", self.device, ANALYSIS_DEVICES)
        check_positive("num_images", self.num_images)
        check_positive("batch_size", self.batch_size)


def _check_positions(name: str, positions: list[int] | None, num_images: int) -> None:
    """None, or a non-empty list of distinct positions 0 … num_images − 1 among the analysed images."""
    if positions is None:
        return
    if (not positions or len(set(positions)) != len(positions)
            or any(isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < num_images for p in positions)):
        raise ValueError(f"{name} must be None or distinct image positions 0 … {num_images - 1} (num_images="
                         f"{num_images}), got {positions!r}.")


@dataclass(frozen=True)
class AttentionParams(AnalysisParams):
    """07_attention: mean attention distance and NMI per block; attention maps of the last block.

    head: the head whose maps are drawn. query: (row, col) of the query token, None = the grid centre (the
        original: [8, 3], its ``coord_y=8, coord_x=3``).
    num_map_images: images whose maps are drawn (the first ones of the subset), unless map_images is given.
    map_images: positions (0-based) among the analysed images of those whose maps are drawn; None = the first
        num_map_images (the original: [16, 26, 36, 46, 56]).
    """

    head: int = 0
    query: list[int] | None = None
    num_map_images: int = 4
    map_images: list[int] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head < 0:
            raise ValueError(f"head must be >= 0 (a head index of the last block), got {self.head}.")
        if self.query is not None and (len(self.query) != 2 or min(self.query) < 0):
            raise ValueError(f"query must be [row, col] on the token grid (or None for the centre), got {self.query}.")
        check_positive("num_map_images", self.num_map_images)
        if self.num_map_images > self.num_images:
            raise ValueError(f"num_map_images={self.num_map_images} must be <= num_images={self.num_images}.")
        _check_positions("map_images", self.map_images, self.num_images)


@dataclass(frozen=True)
class FourierParams(AnalysisParams):
    """08_fourier: relative log amplitude of the Fourier-transformed hidden states."""


@dataclass(frozen=True)
class TokensParams(AnalysisParams):
    """09_tokens: token t-SNE of one layer, the joint pre/post-attention PCA of one block, token homogeneity.

    tsne_layer: hidden state for the t-SNE (0 = embedding output, k = block k), None = the last block.
    pca_block: block (1 … L) for the pre/post-attention PCA, None = where the models' post-attention token
        similarity differs most (``token_analysis.most_different_block``).
    perplexity: t-SNE perplexity (SPEC: 20).
    tsne_init: t-SNE initialisation, "pca" or "random" (the original's ``init='random'``).
    pca_images: positions (0-based) among the analysed images of those the PCA projects; None = all (the
        original: [8], one image).
    """

    num_images: int = 16  # this section's own default

    tsne_layer: int | None = None
    pca_block: int | None = None
    perplexity: float = 20.0
    tsne_init: str = "pca"
    pca_images: list[int] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("perplexity", self.perplexity)
        if self.tsne_layer is not None and self.tsne_layer < 0:
            raise ValueError(f"tsne_layer must be >= 0 (0 = embedding output) or None, got {self.tsne_layer}.")
        if self.pca_block is not None and self.pca_block < 1:
            raise ValueError(f"pca_block must be a block number >= 1 or None, got {self.pca_block}.")
        from kamim_lib.analysis.token_tsne import TSNE_INITS

        check_choice("tsne_init", self.tsne_init, TSNE_INITS)
        _check_positions("pca_images", self.pca_images, self.num_images)


@dataclass(frozen=True)
class ReconstructionParams(AnalysisParams):
    """10_reconstructions: reference / masked / reconstructions and PSNR/SSIM (masked region and full image).

    mask_ratio / mask_patch_size: the SimMIM masks (the same masks for every model, drawn from ``seed``); the
        paper's reconstruction numbers use mask ratio 0.4. num_figure_images: rows of the figure.
    floor_images: training images averaged into the image-blind floor's mean image.
    reconstruction_data: "analysis" (the analysis images: ``num_images`` of dataset/split through
        ``analysis_transform``) or "imagenet_val" (the original's: every image of the ImageNet-1K validation split
        under ``data_root``, squashed to S × S without antialiasing, scored in batches of ``batch_size``,
        resumable; ``kamim_paper.experiments.reconstruction_scores``).
    """

    mask_ratio: float = 0.4
    mask_patch_size: int = 32
    num_figure_images: int = 4
    floor_images: int = 256
    reconstruction_data: str = "analysis"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}.")
        check_positive("mask_patch_size", self.mask_patch_size)
        check_positive("num_figure_images", self.num_figure_images)
        check_positive("floor_images", self.floor_images)
        from kamim_paper.experiments.reconstruction_scores import RECONSTRUCTION_DATA

        check_choice("reconstruction_data", self.reconstruction_data, RECONSTRUCTION_DATA)
        if self.num_figure_images > self.num_images:
            raise ValueError(f"num_figure_images={self.num_figure_images} must be <= num_images={self.num_images}.")


# --- Training notebooks (02–06): pretraining, linear probing, fine-tuning and the ablations. ------------------


@dataclass(frozen=True)
class TrainingParams:
    """Parameters shared by the training notebooks.

    train_config: the engine configuration file, relative to the repository's ``params/`` (e.g.
        "train/smoke.yaml", "train/paper.yaml") or absolute.
    train_overrides: ``key=value`` applied to every run that has the key, or ``<command>.key=value`` for one
        command (pretrain, linprobe, finetune), e.g. ["epochs=2", "linprobe.lr=0.1"]; see
        ``kamim_paper.experiments.training``. out_dir and device are set by the notebook.
    data_root: the data set's folder (None: the configuration's own ``data_root``, e.g. for the embedded digits);
        passed to every run as ``data_root=...``, which is not part of the run ids.
    methods: which of "simmim" and "kamim" to train.
    seeds: the engine seeds each variant is trained with; a seed gives every method the same initialisation, data
        order and masks (paired seeds), so two methods are compared by their mean paired difference and its 95 %
        interval (at least 2 seeds; the smoke profile uses 5).
    device: the engine's device: "auto", "cpu", "cuda" or "xla".
    output_dir: None = results/<profile>/; runs go to <output_dir>/runs/. force: recompute the section's summary
        (training itself is never repeated: finished runs are reused by run id).
    """

    profile: str = "smoke"
    train_config: str = "train/smoke.yaml"
    train_overrides: list[str] = default([])
    data_root: str | None = None
    methods: list[str] = default(["simmim", "kamim"])
    seeds: list[int] = default([0, 1, 2, 3, 4])
    device: str = "auto"
    output_dir: str | None = None
    force: bool = False

    # The commands whose configurations the notebook builds (checked up front).
    stages = ("pretrain",)

    @property
    def overrides(self) -> list[str]:
        """``train_overrides`` plus ``data_root=...`` when a data root is given."""
        extra = [f"data_root={self.data_root}"] if self.data_root else []
        return [*self.train_overrides, *extra]

    def __post_init__(self) -> None:
        from kamim_lib.config import DEVICES
        from kamim_paper.experiments.runs import check_seeds, method_variants
        from kamim_paper.experiments.training import check_training_setup

        _check_profile(self.profile)
        method_variants(self.methods)
        check_seeds(self.seeds)
        check_choice("device", self.device, DEVICES)
        check_training_setup(self.train_config, self.overrides, self.device, stages=self.stages)


@dataclass(frozen=True)
class PretrainParams(TrainingParams):
    """02_pretrain: SimMIM and KAMIM pretraining, loss curves, reconstructions of masked validation images.

    num_reconstruction_images: validation images reconstructed by each checkpoint (the same images and masks).
    seed: which images, and the masks.
    """

    num_reconstruction_images: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("num_reconstruction_images", self.num_reconstruction_images)
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}.")


@dataclass(frozen=True)
class ProtocolParams(TrainingParams):
    """03_linear_probe / 04_finetune: evaluate each method's pretrained backbone.

    checkpoints: method -> checkpoint to evaluate instead of this notebook's own pretraining (e.g. the original's
        released weights for model=vit_b); {} = pretrain here (or reuse the finished run).
    """

    checkpoints: dict[str, str] = default({})

    def __post_init__(self) -> None:
        super().__post_init__()
        for method, path in self.checkpoints.items():
            if method not in self.methods:
                raise ValueError(f"checkpoints names {method!r}, which is not in methods={self.methods}.")
            # Absolute only: notebooks run with notebooks/ as the working folder.
            if not isinstance(path, str) or not Path(path).is_absolute() or not Path(path).exists():
                raise ValueError(f"checkpoints[{method!r}]={path!r} must be the absolute path of an existing "
                                 "checkpoint file, or leave the method out to pretrain it here.")


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


def _check_protocol(protocol: str) -> None:
    from kamim_paper.experiments.training import PROTOCOLS

    check_choice("protocol", protocol, (NO_PROTOCOL, *PROTOCOLS))


@dataclass(frozen=True)
class KamimVariantsParams(TrainingParams):
    """Shared by 05 and 06: KAMIM variants on paired seeds, each measured by held-out masked L1 and a converged
    probe, and (unless ``protocol`` is "none") also evaluated by the engine's ``protocol`` run.

    protocol: "none" (pretrain only), "linprobe" or "finetune" (an engine run per variant and seed besides).
    """

    protocol: str = "linprobe"

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

    def __post_init__(self) -> None:
        _check_protocol(self.protocol)
        super().__post_init__()
        if "kamim" not in self.methods:
            raise ValueError(f"methods={self.methods} must include 'kamim': {self.varies}.")


@dataclass(frozen=True)
class DetectorAblationParams(KamimVariantsParams):
    """05_detector_ablation: KAMIM with each keypoint detector (and SimMIM when "simmim" is in methods).

    detectors: any of "fast", "sift", "orb".
    """

    detectors: list[str] = default(["fast", "sift", "orb"])

    varies = "the ablation varies KAMIM's detector"

    def __post_init__(self) -> None:
        from kamim_paper.experiments.runs import detector_variants

        super().__post_init__()
        detector_variants(self.detectors)


@dataclass(frozen=True)
class SweepParams(KamimVariantsParams):
    """06_wps_temperature_sweep: KAMIM over weight_patch_sizes x temperatures (SimMIM as a reference row when
    "simmim" is in methods).

    weight_patch_sizes: w_ps values in pixels; each must divide the configured img_size.
    temperatures: T values (> 0).
    controls: also train KAMIM with its weights shuffled within each image and with loss_normalize=weight.
    """

    weight_patch_sizes: list[int] = default([4, 8])
    temperatures: list[float] = default([0.25, 1.0])
    controls: bool = True

    varies = "the sweep varies KAMIM's w_ps and T"

    def __post_init__(self) -> None:
        from kamim_paper.experiments.runs import sweep_variants
        from kamim_paper.experiments.training import check_training_setup

        super().__post_init__()
        # Each w_ps must divide img_size: the engine's configuration says so, naming the variant.
        check_training_setup(self.train_config, self.overrides, self.device, stages=("pretrain",),
                             variants=[variant.overrides for variant in
                                       sweep_variants(self.weight_patch_sizes, self.temperatures)])


# --- 12_peers: KAMIM beside SimMIM, AttMask, SemanticMIM and PSS (PEERS §6.2). ---------------------------------


@dataclass(frozen=True)
class MaskingParams(TrainingParams):
    """11_masking: masking arms x weighting methods x targets, each pretrained on every seed, measured by held-out
    masked L1 and a converged probe, and compared with the random arm of the same method and target.

    arms: "random", "attmask high|low|hint", "density highest|lowest|sample" (kamim_paper.experiments.masking_grid).
    methods: the weightings, among the methods with a ``target`` option ("simmim", "kamim").
    targets: "pixels" and/or "norm_pix".
    """

    methods: list[str] = default(["simmim"])  # this section's own default

    arms: list[str] = default(["random", "attmask high", "density highest"])
    targets: list[str] = default(["pixels"])

    # pretraining, and the linear-probe configuration whose data, block and pooling the probe features use
    stages = ("pretrain", "linprobe")

    def __post_init__(self) -> None:
        from kamim_paper.experiments.masking_grid import masking_variants
        from kamim_paper.experiments.training import check_training_setup

        super().__post_init__()
        grid = masking_variants(self.arms, self.methods, self.targets)
        # Every cell must be a valid configuration (e.g. AttMask needs a ViT, hint a large enough grid).
        check_training_setup(self.train_config, self.overrides, self.device, stages=("pretrain",),
                             variants=[variant.overrides for variant in grid])


@dataclass(frozen=True)
class PeersParams(TrainingParams):
    """12_peers: the peers pretrained on one footing with paired seeds; PSS fine-tuning and its sweep.

    methods: peers to pretrain, from ``kamim_paper.experiments.peers.PEER_METHODS`` (simmim, kamim, attmask,
        semanticmim, kamim+semanticmim); "simmim" is the reference of every paired difference.
    attmask_mode: AttMask's rule for the attmask peer (high, low, hint: the best mode of the AttMask notebook).
    peer_settings: "shared" (every peer on SimMIM's masks: 32-px cells at ratio 0.6, pixel targets) or "papers"
        (each peer with its own paper's masks and target, ``kamim_paper.experiments.peers.PAPER_SETTINGS``:
        SemanticMIM per-token masks at 0.8 with 8 proxies and the HOG target, AttMask token-level floor at 0.3).
    protocols: "linprobe" and/or "finetune" for every peer and the random-init baseline.
    seeds: the paired seeds (the same seed gives every peer the same data order and random masks); intervals
        need at least 2.
    pss_sources: peers whose backbones are also fine-tuned with PSS (needs "finetune" in protocols for the
        plain comparison and the time saving); pss_schedule / pss_scorers: the PSS settings.
    sweep_drop_ratios: drop ratios of the dynamic-inference sweep of the fine-tuned PSS sources (plain and PSS).
    """

    methods: list[str] = default(["simmim", "kamim", "attmask", "semanticmim", "kamim+semanticmim"])  # own default
    seeds: list[int] = default([0])  # this section's own default
    attmask_mode: str = "high"
    peer_settings: str = "shared"
    protocols: list[str] = default(["linprobe", "finetune"])
    pss_sources: list[str] = default(["simmim", "kamim"])
    pss_schedule: str = "cyclic"
    pss_scorers: list[str] = default(["l1"])
    sweep_drop_ratios: list[float] = default([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])

    @property
    def stages(self) -> tuple[str, ...]:
        return ("pretrain", *self.protocols)

    def __post_init__(self) -> None:
        from kamim_lib.config import DEVICES
        from kamim_lib.config.schema import PSS_SCHEDULES, PSS_SCORERS
        from kamim_lib.masking.attention import ATTMASK_MODES
        from kamim_paper.experiments.runs import check_seeds
        from kamim_paper.experiments.peers import (PEER_METHODS, PEER_SETTINGS, REFERENCE, model_patch_size,
                                                   peer_variant, pss_variant)
        from kamim_paper.experiments.training import PROTOCOLS, check_training_setup

        _check_profile(self.profile)
        check_choice_list("methods", self.methods, PEER_METHODS)
        if REFERENCE not in self.methods:
            raise ValueError(f"methods={self.methods} must include {REFERENCE!r}: every difference is paired with it.")
        check_choice("attmask_mode", self.attmask_mode, ATTMASK_MODES)
        check_choice("peer_settings", self.peer_settings, PEER_SETTINGS)
        check_choice_list("protocols", self.protocols, PROTOCOLS)
        check_seeds(self.seeds)
        for source in self.pss_sources:
            if source not in self.methods:
                raise ValueError(f"pss_sources names {source!r}, which is not in methods={self.methods}.")
        if self.pss_sources and "finetune" not in self.protocols:
            raise ValueError("pss_sources needs 'finetune' in protocols (PSS is compared with the plain fine-tune).")
        check_choice("pss_schedule", self.pss_schedule, tuple(s for s in PSS_SCHEDULES if s != "none"))
        check_choice_list("pss_scorers", self.pss_scorers, PSS_SCORERS)
        for ratio in self.sweep_drop_ratios:
            if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
                raise ValueError(f"sweep_drop_ratios must be numbers in [0, 1), got {self.sweep_drop_ratios}.")
        check_choice("device", self.device, DEVICES)
        patch_size = model_patch_size(self.train_config, self.overrides, self.device)
        settings = {"attmask_mode": self.attmask_mode, "settings": self.peer_settings, "patch_size": patch_size}
        variants = [peer_variant(name, **settings).overrides for name in self.methods]
        variants += [pss_variant(peer_variant(source, **settings), schedule=self.pss_schedule,
                                 scorer=scorer).overrides
                     for source in self.pss_sources for scorer in self.pss_scorers]
        check_training_setup(self.train_config, self.overrides, self.device, stages=self.stages, variants=variants)


# The parameters of each section's notebook (the notebooks pass these to notebook_parameters; tests check it).
SECTION_PARAMS: dict[str, type] = {
    "method": MethodParams, "pretrain": PretrainParams, "linprobe": LinearProbeParams, "finetune": FinetuneParams,
    "detectors": DetectorAblationParams, "sweep": SweepParams, "attention": AttentionParams,
    "fourier": FourierParams, "tokens": TokensParams, "reconstructions": ReconstructionParams,
    "masking": MaskingParams, "peers": PeersParams,
}


def section_defaults(schema: type) -> dict:
    """The default of every parameter of ``schema`` (a fresh copy of lists and dicts)."""
    return {field.name: field.default if field.default is not dataclasses.MISSING else field.default_factory()
            for field in dataclasses.fields(schema)}
