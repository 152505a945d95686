"""The analysis notebooks' figures, drawn only from what the notebooks wrote (summary.json and arrays.npz).

Our curves are solid, the paper's (ViT-B) dashed, and every figure shows SimMIM, KAMIM and the random-init
baseline side by side. Curves of different lengths (e.g. an 8-block model beside the paper's 12 blocks) share the
x axis, each drawn over its own layers. Figures are ``matplotlib.figure.Figure`` objects (see ``plots``).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

from kamim_lib.analysis import plots
from kamim_lib.analysis.attention_pca import JointPCA
from kamim_lib.analysis.fourier import FourierAnalysis
from kamim_lib.analysis.tables import METHOD_NAMES


def _display(label: str) -> str:
    return METHOD_NAMES.get(label, label)


def _aligned(curves: Mapping[str, dict]) -> tuple[list, dict[str, list]]:
    """Put per-layer rows {"layer", "value"} on one list of layer labels; NaN where a curve has no value."""
    layers: list = []
    for rows in curves.values():
        layers += [layer for layer in rows["layer"] if layer not in layers]
    aligned = {}
    for name, rows in curves.items():
        values = dict(zip(rows["layer"], rows["value"]))
        aligned[name] = [np.nan if values.get(layer) is None else values[layer] for layer in layers]
    return layers, aligned


def layer_curves_figure(summary: dict, metric: str, *, ylabel: str, title: str,
                        horizontal: tuple[str, float] | None = None, ax=None) -> Figure:
    """One curve per model (solid) and the paper's curves (dashed, when the summary has them) against layer.

    Args:
        summary: a section summary with ``models[label][metric]`` per-layer rows (and ``paper[metric]``).
        metric: e.g. "attention_distance_px", "nmi", "delta_log_amplitude".
        ylabel, title: axis label and title.
        horizontal: (label, y) of a dotted reference line, e.g. the uniform-attention distance.
        ax: draw into this Axes.
    """
    ours = {_display(label): entries[metric] for label, entries in summary["models"].items()}
    paper = summary.get("paper", {}).get(metric, {})
    paper_model = summary.get("paper", {}).get("paper_model", "vit_b")
    reference = {f"{_display(method)} ({paper_model})": rows for method, rows in paper.items()}
    layers, aligned = _aligned({**ours, **{f"paper {name}": rows for name, rows in reference.items()}})
    figure = plots.plot_layer_curves({name: aligned[name] for name in ours}, layers=layers,
                                     reference={name: aligned[f"paper {name}"] for name in reference},
                                     ylabel=ylabel, title=f"{title} ({summary['model']})", ax=ax)
    if horizontal is not None:
        axes = figure.axes[0] if ax is None else ax
        axes.axhline(horizontal[1], color="grey", linestyle=":", linewidth=1, label=horizontal[0])
        axes.legend(fontsize="small")
    return figure


def attention_curves_figure(summary: dict) -> Figure:
    """Mean attention distance and NMI per block, side by side, with the uniform-attention distance dotted."""
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    uniform = next(iter(summary["models"].values()))["uniform_attention_distance_px"]["value"][-1]
    layer_curves_figure(summary, "attention_distance_px", ylabel="mean attention distance (px)",
                        title="attention distance", horizontal=(f"uniform attention ({uniform:.1f} px)", uniform),
                        ax=left)
    layer_curves_figure(summary, "nmi", ylabel="NMI", title="attention NMI", ax=right)
    return figure


def attention_maps_figure(images: np.ndarray, maps: Mapping[str, np.ndarray], query: tuple[int, int],
                          title: str = "") -> Figure:
    """Rows of images: the input, then each model's attention map of the query token (red cross).

    Args:
        images: uint8 (n, 3, H, W) input pixels.
        maps: label → float (n, g, g) attention maps.
        query: (row, col) of the query token on the g x g grid.
        title: figure title.
    """
    count = images.shape[0]
    figure = Figure(figsize=(2.2 * (1 + len(maps)), 2.2 * count + 0.4), layout="constrained")
    axes = np.asarray(figure.subplots(count, 1 + len(maps), squeeze=False))
    side = next(iter(maps.values())).shape[-1]
    scale = images.shape[-1] / side
    for row in range(count):
        axes[row, 0].imshow(images[row].transpose(1, 2, 0))
        axes[row, 0].plot((query[1] + 0.5) * scale - 0.5, (query[0] + 0.5) * scale - 0.5, "rx", markersize=8)
        for column, (label, values) in enumerate(maps.items(), 1):
            axes[row, column].imshow(values[row], cmap="viridis")
            axes[row, column].plot(query[1], query[0], "rx", markersize=8)
            if row == 0:
                axes[row, column].set_title(_display(label), fontsize="small")
        if row == 0:
            axes[row, 0].set_title("input", fontsize="small")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(title, fontsize="medium")
    return figure


def fourier_figure(summary: dict) -> Figure:
    """ΔLog amplitude per layer (ours and the paper's), then each model's diagonal profiles, early → late."""
    models = summary["models"]
    figure = Figure(figsize=(4.2 * (1 + len(models)), 3.8), layout="constrained")
    axes = figure.subplots(1, 1 + len(models))
    layer_curves_figure(summary, "delta_log_amplitude", ylabel="Δ log amplitude (highest freq. − DC)",
                        title="Fourier", ax=axes[0])
    for ax, (label, entries) in zip(axes[1:], models.items()):
        profiles = [np.asarray(values, dtype=float) for values in entries["profiles"]["value"]]
        analysis = FourierAnalysis(delta_log_amplitude=np.array([p[-1] for p in profiles]), profiles=profiles,
                                   frequencies=[np.asarray(f, dtype=float) for f in entries["frequencies_pi"]["value"]])
        plots.plot_fourier_profiles(analysis, labels=entries["profiles"]["layer"], title=_display(label), ax=ax)
    return figure


def token_similarity_figure(summary: dict) -> Figure:
    """Mean cosine similarity of an image's patch tokens before (dashed) and after (solid) each block's attention.

    Models without these entries (Swin, whose attention output is per window) are left out, with a note when none
    has them.
    """
    figure = Figure(figsize=(5, 3.8), layout="constrained")
    ax = figure.add_subplot()
    drawn = False
    for index, (label, entries) in enumerate(summary["models"].items()):
        colour = f"C{index}"
        for metric, style, kind in (("token_cosine_similarity_post_attention", "-", "post"),
                                    ("token_cosine_similarity_pre_attention", "--", "pre")):
            if metric not in entries:
                continue
            drawn = True
            rows = entries[metric]
            ax.plot(rows["layer"], np.array(rows["value"], dtype=float), style, marker="o", color=colour,
                    label=f"{_display(label)} ({kind})")
    ax.set_xlabel("block")
    ax.set_ylabel("mean token cosine similarity")
    ax.set_title(f"token homogeneity ({summary['model']})")
    if drawn:
        ax.legend(fontsize="x-small")
    else:
        ax.text(0.5, 0.5, "measured for ViT models only", ha="center", va="center", transform=ax.transAxes)
    return figure


def tsne_figure(arrays: Mapping[str, np.ndarray], labels: list[str], layer: int) -> Figure:
    """One t-SNE panel per model: every patch token of the images, coloured by class.

    Args:
        arrays: ``arrays.npz`` of the tokens section, with ``tsne/<label>/points`` (M, 2) and ``tsne/labels`` (M,).
        labels: model labels, in panel order.
        layer: the hidden-state layer the tokens came from (for the title).
    """
    figure = Figure(figsize=(4 * len(labels), 4.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(labels)))
    for ax, label in zip(axes, labels):
        plots.plot_embedding(arrays[f"tsne/{label}/points"], arrays["tsne/labels"],
                             title=f"{_display(label)}: layer {layer}", ax=ax)
    return figure


def pca_figure(arrays: Mapping[str, np.ndarray], labels: list[str], block: int) -> Figure:
    """One panel per model: the block's LN1 output and attention output on their joint 2 principal axes."""
    figure = Figure(figsize=(4 * len(labels), 4.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(labels)))
    for ax, label in zip(axes, labels):
        prefix = f"pca/{label}/"
        result = JointPCA(arrays[prefix + "pre"], arrays[prefix + "post"], arrays[prefix + "explained_variance_ratio"],
                          arrays[prefix + "components"], arrays[prefix + "mean"])
        plots.plot_pre_post_pca(result, title=f"{_display(label)}: block {block}", ax=ax)
    return figure


def reconstructions_figure(arrays: Mapping[str, np.ndarray], labels: list[str], max_images: int = 4) -> Figure:
    """Columns reference / masked / each model's reconstruction, rows images (un-normalised pixels).

    Args:
        arrays: ``arrays.npz`` of the reconstructions section: ``reference``, ``masked`` and
            ``prediction/<label>``, uint8 (n, 3, H, W).
        labels: model labels, in column order.
        max_images: rows drawn at most.
    """
    panels = {"reference": arrays["reference"], "masked": arrays["masked"]}
    panels.update({_display(label): arrays[f"prediction/{label}"] for label in labels})
    return plots.plot_image_grid({name: images.astype(np.float32) / 255 for name, images in panels.items()},
                                 max_images=max_images)
