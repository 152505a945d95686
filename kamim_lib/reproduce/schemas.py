"""The parameters of each section notebook, as dataclasses checked by ``notebook_parameters``.

Each field is one name in the notebook's ``parameters`` cell; invariants are checked in ``__post_init__``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kamim_lib._validation import check_choice, check_divisible, check_positive
from kamim_lib.reproduce.profiles import list_profiles


def _check_profile(profile: str) -> None:
    if not profile.endswith((".yaml", ".yml")):
        check_choice("profile", profile, list_profiles())


def section_output_dir(output_dir: str | None, profile: str) -> Path:
    """``output_dir`` if given, else ``results/<profile>/``; created if needed."""
    from kamim_lib.reproduce.runner import results_root

    out = Path(output_dir) if output_dir else results_root() / Path(profile).stem
    out.mkdir(parents=True, exist_ok=True)
    return out


@dataclass(frozen=True)
class MethodParams:
    """01_method: the keypoint-weighting figure on bundled photos."""

    profile: str
    photos: list[str]
    img_size: int
    detector: str
    mode: str
    backend: str
    weight_patch_size: int
    temperature: float
    mask_patch_size: int
    model_patch_size: int
    mask_ratio: float
    seed: int
    output_dir: str | None
    force: bool

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
    simmim_checkpoint / kamim_checkpoint: any checkpoint ``kamim_lib.models.load_pretrained`` reads (the
        original's released HF files included); None = this profile's own pretraining run.
    dataset / data_root / split / num_images / seed: which images (a seeded random subset); ``seed`` also
        initialises the random-init baseline.
    batch_size: images per forward pass. device: "auto", "cpu" or "cuda".
    output_dir: None = results/<profile>/. force: recompute even when the summary exists.
    """

    profile: str
    model: str | None
    simmim_checkpoint: str | None
    kamim_checkpoint: str | None
    dataset: str
    data_root: str | None
    split: str
    num_images: int
    batch_size: int
    seed: int
    device: str
    output_dir: str | None
    force: bool

    def __post_init__(self) -> None:
        from kamim_lib.analysis.model_set import ANALYSIS_DEVICES
        from kamim_lib.data import list_datasets
        from kamim_lib.models import list_models

        _check_profile(self.profile)
        if self.model is not None:
            check_choice("model", self.model, list_models())
        check_choice("dataset", self.dataset, list_datasets())
        check_choice("split", self.split, ("train", "val"))
        check_choice("device", self.device, ANALYSIS_DEVICES)
        check_positive("num_images", self.num_images)
        check_positive("batch_size", self.batch_size)


@dataclass(frozen=True)
class AttentionParams(AnalysisParams):
    """07_attention: mean attention distance and NMI per block; attention maps of the last block.

    head: the head whose maps are drawn. query: (row, col) of the query token, None = the grid centre.
    num_map_images: images whose maps are drawn (the first ones of the subset).
    """

    head: int
    query: list[int] | None
    num_map_images: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head < 0:
            raise ValueError(f"head must be >= 0 (a head index of the last block), got {self.head}.")
        if self.query is not None and (len(self.query) != 2 or min(self.query) < 0):
            raise ValueError(f"query must be [row, col] on the token grid (or None for the centre), got {self.query}.")
        check_positive("num_map_images", self.num_map_images)
        if self.num_map_images > self.num_images:
            raise ValueError(f"num_map_images={self.num_map_images} must be <= num_images={self.num_images}.")


@dataclass(frozen=True)
class FourierParams(AnalysisParams):
    """08_fourier: relative log amplitude of the Fourier-transformed hidden states."""


@dataclass(frozen=True)
class TokensParams(AnalysisParams):
    """09_tokens: token t-SNE of one layer, the joint pre/post-attention PCA of one block, token homogeneity.

    tsne_layer: hidden state for the t-SNE (0 = embedding output, k = block k), None = the last block.
    pca_block: block (1 … L) for the pre/post-attention PCA, None = the last block.
    perplexity: t-SNE perplexity (SPEC: 20).
    """

    tsne_layer: int | None
    pca_block: int | None
    perplexity: float

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("perplexity", self.perplexity)
        if self.tsne_layer is not None and self.tsne_layer < 0:
            raise ValueError(f"tsne_layer must be >= 0 (0 = embedding output) or None, got {self.tsne_layer}.")
        if self.pca_block is not None and self.pca_block < 1:
            raise ValueError(f"pca_block must be a block number >= 1 or None, got {self.pca_block}.")


@dataclass(frozen=True)
class ReconstructionParams(AnalysisParams):
    """10_reconstructions: reference / masked / reconstructions and PSNR/SSIM (masked region and full image).

    mask_ratio / mask_patch_size: the SimMIM masks (the same masks for every model, drawn from ``seed``); the
        paper's reconstruction numbers use mask ratio 0.4. num_figure_images: rows of the figure.
    """

    mask_ratio: float
    mask_patch_size: int
    num_figure_images: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}.")
        check_positive("mask_patch_size", self.mask_patch_size)
        check_positive("num_figure_images", self.num_figure_images)
        if self.num_figure_images > self.num_images:
            raise ValueError(f"num_figure_images={self.num_figure_images} must be <= num_images={self.num_images}.")
