"""Small matplotlib helpers for the analysis notebooks (SPEC §3 figures).

Figures are built with ``matplotlib.figure.Figure`` directly, never through pyplot: no global figure registry,
nothing to close, safe under the Agg backend, in threads and in papermill. In Jupyter, a returned Figure renders
inline as the last expression of a cell once ``matplotlib.pyplot`` has been imported (the inline backend then
registers its display hook); ``save_figure`` writes a PNG either way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from kamim_lib.analysis.attention_pca import JointPCA
from kamim_lib.analysis.fourier import FourierAnalysis


def _numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)


def _axes(ax, figsize=(4.5, 3.5)):
    if ax is not None:
        return ax.figure, ax
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.add_subplot()


def plot_layer_curves(curves: Mapping[str, Sequence[float]], *, layers: Sequence[int | str] | None = None,
                      reference: Mapping[str, Sequence[float]] | None = None, ylabel: str = "", title: str = "",
                      ax=None) -> Figure:
    """Per-layer curves (attention distance, NMI, ΔLog amplitude): ours solid, the paper's dashed.

    Args:
        curves: name → one value per layer, measured here.
        layers: x tick labels (e.g. 1…12, or ["x", 1, …, 11] for Fourier); None numbers from 1.
        reference: name → the paper's values on the same layers (``kamim_paper.results.published``), drawn dashed as "paper: name".
        ylabel, title: axis label and title.
        ax: draw into this Axes instead of a new figure.

    Returns:
        The Figure.
    """
    figure, ax = _axes(ax)
    lengths = {len(v) for v in list(curves.values()) + list((reference or {}).values())}
    if len(lengths) > 1:
        raise ValueError(f"all curves must have one value per layer (same length), got lengths {sorted(lengths)}.")
    count = lengths.pop() if lengths else 0
    labels = list(layers) if layers is not None else list(range(1, count + 1))
    if len(labels) != count:
        raise ValueError(f"layers has {len(labels)} labels for curves of length {count}.")
    positions = np.arange(count)
    for name, values in curves.items():
        ax.plot(positions, _numpy(values), marker="o", label=name)
    for name, values in (reference or {}).items():
        ax.plot(positions, _numpy(values), linestyle="--", marker="x", alpha=0.7, label=f"paper: {name}")
    ax.set_xticks(positions, [str(label) for label in labels])
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if curves or reference:
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def plot_attention_maps(maps, titles: Sequence[str] | None = None, query: tuple[int, int] | None = None) -> Figure:
    """A row of attention maps over the token grid.

    Args:
        maps: (n, g, g) maps (``attention_map`` output, or several models' maps stacked).
        titles: n titles.
        query: (row, col) of the query token, marked with a red cross.

    Returns:
        The Figure.
    """
    maps = _numpy(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (n, g, g), got shape {maps.shape}.")
    if titles is not None and len(titles) != maps.shape[0]:
        raise ValueError(f"titles has {len(titles)} entries for {maps.shape[0]} maps.")
    figure = Figure(figsize=(2.4 * maps.shape[0], 2.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, maps.shape[0]))
    for index, (ax, grid) in enumerate(zip(axes, maps)):
        ax.imshow(grid, cmap="viridis")
        if query is not None:
            ax.plot(query[1], query[0], marker="x", color="red", markersize=8)
        if titles is not None:
            ax.set_title(titles[index], fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    return figure


def plot_fourier_profiles(analysis: FourierAnalysis, labels: Sequence[str] | None = None, title: str = "",
                          ax=None) -> Figure:
    """Relative log amplitude against diagonal frequency, one line per layer, coloured from early to late.

    Args:
        analysis: ``fourier_relative_log_amplitude`` output.
        labels: one legend label per layer (None: no legend).
        title: axes title.
        ax: draw into this Axes instead of a new figure.

    Returns:
        The Figure.
    """
    figure, ax = _axes(ax)
    from matplotlib import colormaps

    ax.set_xlabel("diagonal frequency (π rad / token)")
    ax.set_ylabel("Δ log amplitude")
    ax.set_title(title, fontsize="small")
    points = max((len(_numpy(frequencies)) for frequencies in analysis.frequencies), default=0)
    if points < MIN_SPECTRUM_POINTS:
        # A g x g token grid gives g // 2 + 1 diagonal frequencies: a "spectrum" of 2 or 3 points is only the
        # ΔLog amplitude again (plotted per layer beside it), so the panel says so instead of drawing lines.
        ax.text(0.5, 0.5, f"only {points} diagonal frequencies:\nthe token grid is too small for a spectrum\n"
                "(ΔLog amplitude per layer: left)", ha="center", va="center", transform=ax.transAxes,
                fontsize="small", color="dimgrey")
        ax.set_xticks([])
        ax.set_yticks([])
        return figure
    colours = colormaps["plasma"](np.linspace(0.0, 0.9, max(1, len(analysis.profiles))))
    for index, (frequencies, profile) in enumerate(zip(analysis.frequencies, analysis.profiles)):
        ax.plot(_numpy(frequencies), _numpy(profile), color=colours[index],
                label=None if labels is None else str(labels[index]))
    if labels is not None:
        ax.legend(fontsize="x-small", ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


# Fewer diagonal frequencies than this (a token grid under 6 x 6) make a profile panel degenerate.
MIN_SPECTRUM_POINTS = 4


# More labels than this get a colour map and no legend (a legend would cover the points).
MAX_LEGEND_ENTRIES = 10


def plot_embedding(points, labels, title: str = "", ax=None) -> Figure:
    """Scatter of a 2-D embedding (t-SNE tokens), one colour per label.

    Args:
        points: (M, 2).
        labels: (M,) label per point (e.g. the image each token came from).
        title: axes title.
        ax: draw into this Axes instead of a new figure.

    Returns:
        The Figure.
    """
    figure, ax = _axes(ax, figsize=(4, 4))
    points, labels = _numpy(points), np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or labels.shape != (points.shape[0],):
        raise ValueError(f"points must be (M, 2) with labels (M,), got {points.shape} and {labels.shape}.")
    unique = np.unique(labels)
    colours = plt_colormap("tab20" if len(unique) > MAX_LEGEND_ENTRIES else "tab10")
    for index, label in enumerate(unique):
        chosen = labels == label
        ax.scatter(points[chosen, 0], points[chosen, 1], s=2, color=colours(index % colours.N), label=str(label))
    ax.set_title(title, fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])
    if len(unique) <= MAX_LEGEND_ENTRIES:
        ax.legend(fontsize="x-small", markerscale=4, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def plt_colormap(name: str):
    """A matplotlib colour map by name (e.g. "tab20")."""
    import matplotlib

    return matplotlib.colormaps[name]


def plot_pre_post_pca(result: JointPCA, title: str = "", ax=None) -> Figure:
    """Pre- and post-attention tokens on their joint first two principal axes.

    Args:
        result: ``pre_post_attention_pca`` output.
        title: axes title.
        ax: draw into this Axes instead of a new figure.

    Returns:
        The Figure.
    """
    figure, ax = _axes(ax, figsize=(4, 4))
    ratio = result.explained_variance_ratio
    ax.scatter(result.pre[:, 0], result.pre[:, 1], s=2, label="pre-attention (LN1 output)")
    ax.scatter(result.post[:, 0], result.post[:, 1], s=2, label="post-attention")
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f}%)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f}%)")
    ax.set_title(title, fontsize="small")
    ax.legend(fontsize="x-small", markerscale=4, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return figure


def outline_segments(mask: np.ndarray) -> list[list[tuple[float, float]]]:
    """Pixel-edge segments of the boundary of a bool (H, W) region, in ``imshow`` data coordinates."""
    padded = np.pad(np.asarray(mask, dtype=bool), 1)
    segments = []
    vertical = padded[1:-1, 1:] != padded[1:-1, :-1]  # (H, W + 1): an edge at x = j − 0.5
    for i, j in zip(*np.nonzero(vertical)):
        segments.append([(j - 0.5, i - 0.5), (j - 0.5, i + 0.5)])
    horizontal = padded[1:, 1:-1] != padded[:-1, 1:-1]  # (H + 1, W): an edge at y = i − 0.5
    for i, j in zip(*np.nonzero(horizontal)):
        segments.append([(j - 0.5, i - 0.5), (j + 0.5, i - 0.5)])
    return segments


def plot_image_grid(panels: Mapping[str, torch.Tensor], max_images: int = 4, *, outline=None,
                    outline_color: str = "yellow") -> Figure:
    """Images side by side: one column per panel (reference / masked / SimMIM / KAMIM …), one row per image.

    Args:
        panels: column title → float (B, 3, H, W) un-normalised pixels in [0, 1] (all with the same B).
        max_images: rows to draw at most.
        outline: optional bool (B, H, W) region (e.g. the masked pixels) outlined on every panel of its row.
        outline_color: the outline's colour.

    Returns:
        The Figure.
    """
    if not panels:
        raise ValueError("panels must hold at least one named image batch.")
    batches = {name: _numpy(images) for name, images in panels.items()}
    sizes = {images.shape[0] for images in batches.values()}
    if len(sizes) != 1 or any(images.ndim != 4 for images in batches.values()):
        raise ValueError("every panel must be a (B, 3, H, W) batch with the same B.")
    rows = min(sizes.pop(), max_images)
    if outline is not None and np.asarray(outline).shape[0] < rows:
        raise ValueError(f"outline has {np.asarray(outline).shape[0]} masks for {rows} rows.")
    figure = Figure(figsize=(2.2 * len(batches), 2.2 * rows), layout="constrained")
    axes = np.asarray(figure.subplots(rows, len(batches), squeeze=False))
    for column, (name, images) in enumerate(batches.items()):
        for row in range(rows):
            ax = axes[row, column]
            ax.imshow(np.clip(images[row].transpose(1, 2, 0), 0, 1))
            if outline is not None:
                from matplotlib.collections import LineCollection

                ax.add_collection(LineCollection(outline_segments(np.asarray(outline)[row]), colors=outline_color,
                                                 linewidths=0.7))
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize="small")
    return figure


def save_figure(figure: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write ``figure`` as an image (format from the suffix), creating parent folders.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path
