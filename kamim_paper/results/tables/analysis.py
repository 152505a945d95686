"""Markdown tables of the analysis summaries: per-layer curves, and reconstructions beside the paper's ranges."""
from __future__ import annotations

from kamim_paper.results.labels import METHOD_NAMES, method_label
from kamim_paper.results.tables.markdown import comparison_table, markdown_table, provenance_line

RECONSTRUCTION_METRICS = ("psnr_masked", "psnr_full", "ssim_masked", "ssim_full")


def _layer_key(layer) -> str:
    return str(layer)


def per_layer_table(summary: dict, metric: str, *, title: str, digits: int = 2) -> str:
    """One row per layer: each model's value, then the paper's curves (ViT-B) where the summary has them.

    Args:
        summary: a section summary (``summaries``) whose ``models[label][metric]`` are per-layer rows.
        metric: e.g. "attention_distance_px", "nmi", "delta_log_amplitude".
        title: heading text.
        digits: decimals shown.

    Returns:
        Markdown: heading, table ("n/a" where a model or the paper has no value at that layer), provenance.
    """
    models = summary["models"]
    missing = [label for label, entries in models.items() if metric not in entries]
    if missing:
        raise ValueError(f"metric {metric!r} is not in the summary of {missing}; it has "
                         f"{sorted(next(iter(models.values())))}.")
    paper = summary.get("paper", {}).get(metric, {})
    columns = {method_label(label): dict(zip(map(_layer_key, entries[metric]["layer"]),
                                                        entries[metric]["value"]))
               for label, entries in models.items()}
    paper_model = summary.get("paper", {}).get("paper_model", "vit_b")
    for method, rows in paper.items():
        columns[f"paper {method_label(method)} ({paper_model})"] = dict(
            zip(map(_layer_key, rows["layer"]), rows["value"]))
    layers = []
    for values in columns.values():
        layers += [layer for layer in values if layer not in layers]
    body = [[layer] + [values.get(layer) for values in columns.values()] for layer in layers]
    text = f"### {title} ({summary['model']})\n\n" + markdown_table(["layer", *columns], body, digits)
    if paper:
        text += f"\n_paper columns: {paper_model}, read off the paper's figures (±0.5 %)._\n"
    return text + "\n" + provenance_line(summary.get("provenance", {})) + "\n"


def in_paper_setting(summary: dict) -> bool:
    """Whether a reconstructions summary was measured in the paper's setting (its model, ViT-B, at its mask ratio,
    0.4): only then do the paper's PSNR/SSIM ranges stand beside ours."""
    paper = summary["paper"]
    return summary["model"] == paper["paper_model"] and summary["parameters"].get("mask_ratio") == paper["mask_ratio"]


def _paper_range(summary: dict, metric: str) -> str | None:
    """The paper's range for a reconstruction metric, only in the paper's setting (ViT-B, its mask ratio)."""
    paper = summary["paper"]
    if not in_paper_setting(summary):
        return None
    low, high = paper["psnr_range"] if metric.startswith("psnr") else paper["ssim_range"]
    return f"{low}–{high}"


FLOOR_ROW = "image-blind floor (training-set mean image)"
ORIGINAL_CONVENTION = "original: torchmetrics, normalised pixels, batch"
KAMIM_CONVENTION = "kamim: per image, [0, 1] pixels"


def reconstruction_table(summary: dict) -> str:
    """PSNR/SSIM per model under both conventions, the paper's ranges beside the original's convention.

    The original's code scored the full image in ImageNet-normalised pixels with torchmetrics' defaults (data
    range inferred from the batch, one MSE over all images): the paper's ranges (ViT-B, mask ratio 0.4) stand
    beside those rows, only in the paper's setting (elsewhere "n/a"). kamim's convention (per image, un-normalised
    pixels, masked region and full image) has no paper counterpart.
    """
    rows = []
    scored = dict(summary["models"])
    if "floor" in summary:
        scored[FLOOR_ROW] = summary["floor"]
    for label, entries in scored.items():
        name = method_label(label)
        for metric, value in entries.get("original_convention", {}).items():
            rows.append({"model": name, "metric": metric, "convention": ORIGINAL_CONVENTION, "ours": value,
                         "paper": _paper_range(summary, metric) if label in METHOD_NAMES else None})
        for metric in RECONSTRUCTION_METRICS:
            rows.append({"model": name, "metric": metric, "convention": KAMIM_CONVENTION,
                         "ours": entries["mean"][metric], "paper": None})
    ratio = summary["parameters"].get("mask_ratio")
    table = comparison_table(f"Reconstructions ({summary['model']}, mask ratio {ratio}, "
                             f"{summary['images']['num_images']} images)", rows,
                             label_keys=("model", "metric", "convention"),
                             provenance=summary.get("provenance"), digits=3)
    note = ("\n_paper: ViT-B at mask ratio 0.4, one range for both methods, scored by the original's code on the "
            "full image in ImageNet-normalised pixels (torchmetrics defaults: data range inferred from the batch, "
            "PSNR from one MSE over all images). kamim's rows: per image on [0, 1] pixels, PSNR in dB. The image-blind "
            "floor predicts the training split's per-pixel mean image for every image._\n")
    return table + note
