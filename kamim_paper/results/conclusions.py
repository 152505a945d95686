"""The conclusion sentences of the analysis notebooks, generated from the numbers they wrote (never hand-written).

Every function takes a section summary (``summaries``) and returns a list of sentences. Comparisons between two
models are paired over the layers of one run ("paired difference over blocks"): they describe the curves
measured, not the variation between training runs (seeds). Models are compared on their own token grid; the
paper's curves (ViT-B, 12 × 12 tokens) are described as read off the paper's figures (±0.5 %).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch

from kamim_lib.analysis.attention_distance import token_distance_matrix
from kamim_lib.stats import paired_difference_ci
from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.results import published
from kamim_paper.results.labels import method_label as display
from kamim_paper.results.sentences import difference
from kamim_paper.results.tables.analysis import in_paper_setting

PAPER_PROVENANCE = "read off the paper's figures (±0.5 %)"
# Two curves are "on top of each other" at a block when they differ by less than this share of the uniform distance.
SAME_CURVE_TOLERANCE = 0.01
# The paper's model: ViT-B/16 at 192 px.
_PAPER_GRID, _PAPER_PATCH_PX = 12, 16


def _values(rows: dict) -> list[float]:
    return [math.nan if value is None else float(value) for value in rows["value"]]


def _finite_pairs(a: Sequence[float], b: Sequence[float]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def compare_curves(name_a: str, a: Sequence[float], name_b: str, b: Sequence[float], *, quantity: str,
                   relation: str, unit: str = "", digits: int = 2, unit_name: str = "blocks") -> str:
    """"A's <quantity> <relation> B's in k of L <unit_name>; paired difference over <unit_name> m [low, high]".

    Args:
        a, b: one value per layer (the same layers).
        relation: "exceeds" (counts a > b) or "is below" (counts a < b).
    """
    a, b = _finite_pairs(a, b)
    if not a:
        return f"{name_a} and {name_b} have no layer with finite {quantity} in common."
    count = sum((x > y) if relation == "exceeds" else (x < y) for x, y in zip(a, b))
    sentence = f"{name_a}'s {quantity} {relation} {name_b}'s in {count} of {len(a)} {unit_name}"
    if len(a) < 2:
        return sentence + "."
    mean, low, high = paired_difference_ci(a, b)
    paired = difference(mean, (low, high), f"+.{digits}f", unit=unit)
    return (f"{sentence}; paired difference over {unit_name} {paired} (95 % Student-t interval over the {len(a)} "
            f"{unit_name}).")


def _comparison_pairs(labels: Iterable[str]) -> list[tuple[str, str]]:
    """(kamim, simmim) when both were analysed, and every trained model against the random init."""
    labels = list(labels)
    pairs = [("kamim", "simmim")] if "kamim" in labels and "simmim" in labels else []
    return pairs + [(label, RANDOM_INIT) for label in labels if label != RANDOM_INIT and RANDOM_INIT in labels]


def uniform_attention_distance(grid: int, patch_px: float) -> float:
    """Mean attention distance of uniform attention on a g × g grid of p-px tokens (99.75 px for 12 × 12 × 16)."""
    return float(token_distance_matrix(grid, patch_px, dtype=torch.float64).mean())


def attention_conclusions(summary: dict) -> list[str]:
    """Sentences on the mean attention distance (absolute and as a share of uniform attention on each model's
    own grid) and NMI of every model, the paired comparisons, and the paper's curves."""
    sentences = []
    models = summary["models"]
    for label, entries in models.items():
        distance, uniform = _values(entries["attention_distance_px"]), _values(entries["uniform_attention_distance_px"])
        share = [d / u for d, u in zip(distance, uniform)]
        nmi = _values(entries["nmi"])
        sentences.append(
            f"{display(label)}: mean attention distance {min(distance):.1f}–{max(distance):.1f} px over its "
            f"{len(distance)} blocks, {min(share):.1%}–{max(share):.1%} of uniform attention on its own grid "
            f"({uniform[-1]:.2f} px); NMI {min(nmi):.4f}–{max(nmi):.4f}.")
    for a, b in _comparison_pairs(models):
        da, db = _values(models[a]["attention_distance_px"]), _values(models[b]["attention_distance_px"])
        if len(da) != len(db):
            sentences.append(f"{display(a)} ({len(da)} blocks) and {display(b)} ({len(db)} blocks) have different "
                             "depths: no block-by-block comparison.")
            continue
        ua, ub = _values(models[a]["uniform_attention_distance_px"]), _values(models[b]["uniform_attention_distance_px"])
        if all(abs(x - y) < 1e-6 for x, y in zip(ua, ub)):
            sentences.append(compare_curves(display(a), da, display(b), db, quantity="mean attention distance",
                                            relation="exceeds", unit=" px", digits=1))
        else:  # different token grids: compare each as a share of uniform attention on its own grid
            sentences.append(compare_curves(
                display(a), [100 * d / u for d, u in zip(da, ua)], display(b), [100 * d / u for d, u in zip(db, ub)],
                quantity="attention distance as % of uniform attention on its own grid", relation="exceeds",
                unit=" points", digits=1))
        if b == RANDOM_INIT and ua == ub:
            same = sum(abs(x - y) < SAME_CURVE_TOLERANCE * u for x, y, u in zip(da, db, ua))
            sentences.append(f"{display(a)}'s distance is within {SAME_CURVE_TOLERANCE:.0%} of uniform attention of "
                             f"the random-init model's in {same} of {len(da)} blocks.")
    uniform = uniform_attention_distance(_PAPER_GRID, _PAPER_PATCH_PX)
    for method, values in published.ATTENTION_DISTANCE_PX.items():
        nmi = published.ATTENTION_NMI[method]
        sentences.append(
            f"The paper's {display(method)} curve ({PAPER_PROVENANCE}, ViT-B): {min(values):.1f}–{max(values):.1f} px "
            f"= {min(values) / uniform:.1%}–{max(values) / uniform:.1%} of uniform attention on its "
            f"{_PAPER_GRID}×{_PAPER_GRID} grid ({uniform:.2f} px), NMI {min(nmi):.3f}–{max(nmi):.3f}.")
    return sentences


def fourier_conclusions(summary: dict) -> list[str]:
    """Sentences on ΔLog amplitude (more negative = more low-pass) per model, paired comparisons, the paper's."""
    sentences = []
    models = summary["models"]
    for label, entries in models.items():
        values = _values(entries["delta_log_amplitude"])
        frequencies = len(entries["frequencies_pi"]["value"][0]) if entries.get("frequencies_pi") else None
        sentences.append(f"{display(label)}: ΔLog amplitude {values[0]:+.2f} at the embedding output and "
                         f"{values[-1]:+.2f} after the last block (range {min(values):+.2f} to {max(values):+.2f}"
                         + (f"; {frequencies} diagonal frequencies per spectrum)." if frequencies else ")."))
    for a, b in _comparison_pairs(models):
        va, vb = _values(models[a]["delta_log_amplitude"]), _values(models[b]["delta_log_amplitude"])
        if len(va) == len(vb):
            sentences.append(compare_curves(display(a), va, display(b), vb, quantity="ΔLog amplitude",
                                            relation="is below", unit_name="layers"))
    paper = published.FOURIER_DELTA_LOG_AMPLITUDE
    lower = sum(k < s for k, s in zip(paper["kamim"], paper["simmim"]))
    sentences.append(f"In the paper ({PAPER_PROVENANCE}, ViT-B), KAMIM's ΔLog amplitude is below SimMIM's in "
                     f"{lower} of {len(paper['kamim'])} layers.")
    return sentences


def token_conclusions(summary: dict) -> list[str]:
    """Sentences on token homogeneity after attention and on how the t-SNE clusters by image."""
    sentences = []
    models = summary["models"]
    for label, entries in models.items():
        parts = []
        post = entries.get("token_cosine_similarity_post_attention")
        if post is not None:
            values = _values(post)
            parts.append(f"mean token cosine similarity after attention {min(values):.3f}–{max(values):.3f} "
                         f"(last block {values[-1]:.3f})")
        score = entries.get("tsne_image_silhouette")
        if score is not None:
            parts.append(f"silhouette of its layer-{summary['tokens']['tsne_layer']} tokens grouped by image "
                         f"{score:+.3f} (1 = one tight cluster per image, 0 = images intermingled)")
        if parts:
            sentences.append(f"{display(label)}: " + "; ".join(parts) + ".")
    for a, b in _comparison_pairs(models):
        pa = models[a].get("token_cosine_similarity_post_attention")
        pb = models[b].get("token_cosine_similarity_post_attention")
        if pa is not None and pb is not None and len(pa["value"]) == len(pb["value"]):
            sentences.append(compare_curves(display(a), _values(pa), display(b), _values(pb),
                                            quantity="post-attention token similarity", relation="exceeds",
                                            digits=3))
    return sentences


def reconstruction_conclusions(summary: dict) -> list[str]:
    """Sentences placing every model (and the paper's numbers, in its setting) against the image-blind floor."""
    floor = summary.get("floor")
    sentences = []
    for label, entries in summary["models"].items():
        original = entries.get("original_convention", {})
        text = (f"{display(label)}: PSNR {original.get('psnr_full', math.nan):.2f} dB, SSIM "
                f"{original.get('ssim_full', math.nan):.3f} (original's convention, full image); masked-region "
                f"PSNR {entries['mean']['psnr_masked']:.2f} dB (kamim's convention)")
        if floor is not None:
            text += (f"; {original['psnr_full'] - floor['original_convention']['psnr_full']:+.2f} dB and SSIM "
                     f"{original['ssim_full'] - floor['original_convention']['ssim_full']:+.3f} against the "
                     "image-blind floor")
        sentences.append(text + ".")
    if floor is not None:
        floor_psnr, floor_ssim = floor["original_convention"]["psnr_full"], floor["original_convention"]["ssim_full"]
        sentences.append(f"The image-blind floor (the training split's mean image for every image) scores PSNR "
                         f"{floor_psnr:.2f} dB, SSIM {floor_ssim:.3f} under the original's convention.")
    paper = summary["paper"]
    in_setting = in_paper_setting(summary)
    low, high = paper["psnr_range"]
    if in_setting and floor is not None:
        sentences.append(f"The paper's PSNR {low}–{high} dB is {low - floor_psnr:+.2f} to {high - floor_psnr:+.2f} "
                         "dB against this floor, measured here on these images.")
    else:
        sentences.append(f"The paper's PSNR {low}–{high} dB (ViT-B, mask ratio {paper['mask_ratio']}) is not "
                         f"comparable with this run ({summary['model']}, mask ratio "
                         f"{summary['parameters'].get('mask_ratio')}).")
    return sentences
