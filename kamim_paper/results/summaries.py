"""What the analysis notebooks write: one JSON summary per section (numbers per layer and per model label) and,
where a figure needs more than numbers (maps, point clouds, images), one compressed ``arrays.npz`` beside it.

Summary layout (``<output_dir>/<section>/summary.json``)::

    {"section": "attention", "model": "vit_b",
     "checkpoints": {"simmim": path, "kamim": path, "random init": null},
     "checkpoint_sources": {"simmim": "parameter" | "pretraining record", ...},
     "parameters": {...}, "provenance": {...}, "images": {"dataset": ..., "split": ..., "indices": [...]},
     "models": {label: {metric: {"layer": [...], "value": [...]}, ...}, ...},
     "paper": {metric: {"simmim": {"layer": [...], "value": [...]}, "kamim": {...}}, "paper_model": "vit_b"},
     ...section-specific entries}

Numbers that are not finite are written as null (JSON has no NaN). Figures are drawn from these files alone
(``kamim_paper.results.figures.analysis``), so a notebook re-run that skips the computation still draws every figure.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from kamim_lib.analysis.collect import AttentionMaps, AttentionStatistics, FourierStatistics, Reconstruction
from kamim_lib.analysis.pixels import unnormalize
from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.experiments.token_analysis import TokenAnalysis
from kamim_paper.results import published
from kamim_paper.results.rows import per_layer_rows

SUMMARY_NAME = "summary.json"
ARRAYS_NAME = "arrays.npz"
# Parameters that do not change the numbers: a summary computed under other values of these is still current.
NON_RESULT_PARAMETERS = ("profile", "output_dir", "force", "device")


def section_dir(output_dir: str | os.PathLike, section: str) -> Path:
    """``<output_dir>/<section>/`` (created)."""
    path = Path(output_dir) / section
    path.mkdir(parents=True, exist_ok=True)
    return path


def _result_parameters(parameters) -> dict:
    values = dataclasses.asdict(parameters) if dataclasses.is_dataclass(parameters) else dict(parameters)
    return {key: value for key, value in values.items() if key not in NON_RESULT_PARAMETERS}


def should_compute(summary_path: str | os.PathLike, parameters, force: bool) -> bool:
    """True unless ``summary_path`` exists and was computed with the same result-relevant parameters.

    Args:
        summary_path: the section's summary.json.
        parameters: the notebook's parameter dataclass (or a dict); ``profile``, ``output_dir``, ``force`` and
            ``device`` are ignored in the comparison.
        force: recompute regardless.
    """
    path = Path(summary_path)
    if force or not path.is_file():
        return True
    recorded = json.loads(path.read_text()).get("parameters", {})
    return _result_parameters(recorded) != json.loads(json.dumps(_result_parameters(parameters)))


def summary_header(section: str, *, parameters, model: str, checkpoints: Mapping[str, str],
                   sources: Mapping[str, str], images, dataset: str, split: str, provenance: dict) -> dict:
    """The entries every section's summary starts with (see the module docstring).

    Args:
        section: section name ("attention", "fourier", "tokens", "reconstructions").
        parameters: the notebook's parameter dataclass.
        model: registry name of the architecture.
        checkpoints, sources: ``resolve_checkpoints`` output.
        images: the ``AnalysisImages`` analysed.
        dataset, split: where the images came from.
        provenance: ``kamim_lib.provenance(profile)``.
    """
    return {
        "section": section,
        "model": model,
        "checkpoints": {**dict(checkpoints), RANDOM_INIT: None},
        "checkpoint_sources": {**dict(sources), RANDOM_INIT: f"create_model seed {parameters.seed}"},
        "parameters": dataclasses.asdict(parameters),
        "provenance": provenance,
        "images": {"dataset": dataset, "split": split, "num_images": int(images.images.shape[0]),
                   "indices": images.indices.tolist(), "labels": images.labels.tolist(),
                   # Only when fewer images than asked were available (the original's selection), so that
                   # summaries of complete selections keep their committed form.
                   **({"note": images.note} if getattr(images, "note", "") else {})},
    }


def _paper_curves(table: Mapping[str, tuple], layers) -> dict:
    return {method: per_layer_rows(list(values), layers=list(layers)) for method, values in table.items()}


def attention_entries(statistics: Mapping[str, AttentionStatistics]) -> dict:
    """``models`` (distance and NMI per block, averaged and per head), the uniform-attention distance, the paper.

    Returns:
        {"models": {label: {"attention_distance_px", "attention_distance_px_per_head", "nmi", "nmi_per_head",
        "uniform_attention_distance_px"}}, "paper": {...}}: each metric as ``per_layer_rows`` columns.
    """
    models = {}
    for label, stats in statistics.items():
        models[label] = {
            "attention_distance_px": per_layer_rows(stats.distance_px, stats.layers),
            "attention_distance_px_per_head": per_layer_rows(stats.distance_px_per_head, stats.layers),
            "nmi": per_layer_rows(stats.nmi, stats.layers),
            "nmi_per_head": per_layer_rows(stats.nmi_per_head, stats.layers),
            "uniform_attention_distance_px": per_layer_rows(stats.uniform_distance_px, stats.layers),
        }
    paper = {"attention_distance_px": _paper_curves(published.ATTENTION_DISTANCE_PX,
                                                    published.ATTENTION_LAYERS),
             "nmi": _paper_curves(published.ATTENTION_NMI, published.ATTENTION_LAYERS),
             "paper_model": "vit_b"}
    return {"models": models, "paper": paper}


def attention_map_entries(maps: Mapping[str, AttentionMaps]) -> dict:
    """``attention_maps``: which block, head and query token the maps show (the maps go to ``arrays.npz`` as
    ``maps/<label>``, see ``attention_map_arrays``)."""
    first = next(iter(maps.values()))
    return {"attention_maps": {"block": first.block, "head": first.head, "query": list(first.query),
                               "queries": {label: list(m.query) for label, m in maps.items()},
                               "num_images": int(first.maps.shape[0])}}


def attention_map_arrays(maps: Mapping[str, AttentionMaps], images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Arrays for ``figures.attention_maps_figure``: ``images`` (uint8 pixels of the normalised ``images``) and
    ``maps/<label>`` (n, g, g)."""
    return {"images": to_uint8_pixels(unnormalize(images)), **{f"maps/{label}": m.maps for label, m in maps.items()}}


def fourier_entries(statistics: Mapping[str, FourierStatistics]) -> dict:
    """``models`` with ΔLog amplitude per hidden state and the diagonal profiles, and the paper's curves.

    Returns:
        {"models": {label: {"delta_log_amplitude": rows, "profiles": rows of lists, "frequencies_pi": rows of
        lists}}, "paper": {"delta_log_amplitude": {...}}}; layers ``["x", 1, …, L]``.
    """
    models = {}
    for label, stats in statistics.items():
        analysis = stats.analysis
        models[label] = {
            "delta_log_amplitude": per_layer_rows(analysis.delta_log_amplitude, stats.layers),
            "profiles": per_layer_rows(analysis.profiles, stats.layers),
            "frequencies_pi": per_layer_rows(analysis.frequencies, stats.layers),
        }
    paper = {"delta_log_amplitude": _paper_curves(published.FOURIER_DELTA_LOG_AMPLITUDE,
                                                  published.FOURIER_LAYERS),
             "paper_model": "vit_b"}
    return {"models": models, "paper": paper}


def token_entries(analyses: Mapping[str, TokenAnalysis]) -> dict:
    """``models`` with the per-block token cosine similarity before/after attention (ViT only) and the joint
    PCA's explained variance; ``tokens`` with the layer embedded by t-SNE and the PCA's block.

    Args:
        analyses: label → ``token_analysis.analyse_tokens`` output.
    """
    models = {}
    for label, analysis in analyses.items():
        entries = {"pca_explained_variance_ratio": [float(v) for v in analysis.pca.explained_variance_ratio],
                   "tsne_image_silhouette": float(analysis.image_silhouette)}
        if analysis.similarity is not None:
            values = analysis.similarity
            entries["token_cosine_similarity_pre_attention"] = per_layer_rows(values.pre_attention, values.layers)
            entries["token_cosine_similarity_post_attention"] = per_layer_rows(values.post_attention, values.layers)
        models[label] = entries
    first = next(iter(analyses.values()))
    return {"models": models, "tokens": {"tsne_layer": first.tsne_layer, "pca_block": first.pca_block,
                                         "num_tokens": int(first.tsne.points.shape[0])}}


def _mean(values: torch.Tensor) -> float | None:
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if finite.numel() else None


def _reconstruction_record(result: Reconstruction) -> dict:
    return {
        "original_convention": dict(result.original_metrics),
        "mean": {name: _mean(values) for name, values in result.metrics.items()},
        "per_image": {name: [value if math.isfinite(value) else None for value in values.tolist()]
                      for name, values in result.metrics.items()},
    }


def reconstruction_entries(reconstructions: Mapping[str, Reconstruction],
                           floor: Reconstruction | None = None) -> dict:
    """``models`` with per-image metrics and their means, and the paper's ranges.

    Returns:
        {"models": {label: {"mean": {metric: float}, "per_image": {metric: [floats]},
        "original_convention": {"psnr_full": float, "ssim_full": float}}}, "paper": {...}}: "mean"/"per_image"
        in kamim's convention (per image, un-normalised pixels), "original_convention" as the original's code
        scored (torchmetrics defaults, normalised full images, one number per batch); with ``floor``, also
        "floor": the same record for the image-blind floor (``image_floor``).
    """
    models = {label: _reconstruction_record(result) for label, result in reconstructions.items()}
    paper = {"psnr_range": list(published.RECONSTRUCTION_PSNR_RANGE),
             "ssim_range": list(published.RECONSTRUCTION_SSIM_RANGE),
             "mask_ratio": published.RECONSTRUCTION_MASK_RATIO, "paper_model": "vit_b",
             "note": "the original's code scores the full image in ImageNet-normalised pixels with torchmetrics' "
                     "defaults (data range inferred from the batch, one MSE over all images)"}
    entries = {"models": models, "paper": paper}
    if floor is not None:
        entries["floor"] = _reconstruction_record(floor)
    return entries


def _finite_json(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(item) for item in value]
    return value


def _compact_json(value, indent: int = 0) -> str:
    """JSON with one key per line but every list of numbers (a curve) on a single line."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(key))}: {_compact_json(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        if all(isinstance(item, list) and not any(isinstance(x, (dict, list)) for x in item) for item in value):
            return "[" + ", ".join(json.dumps(item, allow_nan=False) for item in value) + "]"
        return "[\n" + ",\n".join(inner + _compact_json(item, indent + 1) for item in value) + "\n" + pad + "]"
    return json.dumps(value, allow_nan=False, default=str)


def write_summary(path: str | os.PathLike, summary: dict) -> Path:
    """Write ``summary`` as JSON (non-finite floats as null, curves on one line), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_compact_json(_finite_json(summary)) + "\n")
    return path


def read_summary(path: str | os.PathLike) -> dict:
    """Read a summary written by ``write_summary``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the notebook's computation cell first.")
    return json.loads(path.read_text())


def write_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray | torch.Tensor]) -> Path:
    """Write named arrays to a compressed ``.npz`` (keys may contain any characters but '/')."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {key: value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
             for key, value in arrays.items()}
    np.savez_compressed(path, **plain)
    return path


def read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of a ``.npz`` written by ``write_arrays``."""
    with np.load(Path(path)) as data:
        return {key: data[key] for key in data.files}


def to_uint8_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """Float pixels in [0, 1] (B, 3, H, W) → uint8 (B, 3, H, W), for compact storage of figure panels."""
    return (pixels.clamp(0, 1) * 255).round().to(torch.uint8)
