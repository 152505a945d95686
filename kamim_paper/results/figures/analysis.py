"""The analysis notebooks' figures, drawn only from what the notebooks wrote (summary.json and arrays.npz).

Our curves are solid, the paper's (ViT-B, read off its figures ±0.5 %) dashed, and every figure shows every
analysed model (SimMIM, KAMIM, MoCo v3, ... as given) and the random-init baseline side by side. Curves of different lengths (e.g. an 8-block model beside the paper's 12 blocks) share the
x axis, each drawn over its own layers. Figures are ``matplotlib.figure.Figure`` objects (see ``plots``).
"""
from __future__ import annotations

import textwrap
from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

from kamim_lib.analysis.attention_pca import JointPCA
from kamim_lib.analysis.fourier import FourierAnalysis
from kamim_paper.results.conclusions import PAPER_PROVENANCE, uniform_attention_distance
from kamim_paper.results.figures import plots
from kamim_paper.results.labels import method_label


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
    ours = {method_label(label): entries[metric] for label, entries in summary["models"].items()}
    paper = summary.get("paper", {}).get(metric, {})
    paper_model = summary.get("paper", {}).get("paper_model", "vit_b")
    reference = {f"{method_label(method)} ({paper_model}, read off ±0.5 %)": rows for method, rows in paper.items()}
    layers, aligned = _aligned({**ours, **{f"paper {name}": rows for name, rows in reference.items()}})
    figure = plots.plot_layer_curves({name: aligned[name] for name in ours}, layers=layers,
                                     reference={name: aligned[f"paper {name}"] for name in reference},
                                     ylabel=ylabel, title=f"{title} ({summary['model']})", ax=ax)
    if horizontal is not None:
        axes = figure.axes[0] if ax is None else ax
        axes.axhline(horizontal[1], color="grey", linestyle=":", linewidth=1, label=horizontal[0])
        axes.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def _per_head_band(ax, summary: dict, metric: str) -> None:
    """Shade each model's per-head min–max range of ``metric`` behind its curve (same colour, same x positions as
    ``layer_curves_figure``)."""
    per_head = f"{metric}_per_head"
    ours = {label: entries[metric] for label, entries in summary["models"].items()}
    paper = summary.get("paper", {}).get(metric, {})
    layers, _ = _aligned({**ours, **{f"paper {method}": rows for method, rows in paper.items()}})
    for index, (label, entries) in enumerate(summary["models"].items()):
        if per_head not in entries:
            continue
        by_layer = dict(zip(entries[per_head]["layer"], entries[per_head]["value"]))
        low = [np.nan if by_layer.get(layer) is None else np.nanmin(np.asarray(by_layer[layer], dtype=float))
               for layer in layers]
        high = [np.nan if by_layer.get(layer) is None else np.nanmax(np.asarray(by_layer[layer], dtype=float))
                for layer in layers]
        ax.fill_between(np.arange(len(layers)), low, high, color=f"C{index}", alpha=0.15, linewidth=0)


def _uniform_distances(summary: dict) -> dict[str, float]:
    """Distinct uniform-attention distances of the analysed grids, labelled by model."""
    values: dict[float, list[str]] = {}
    for label, entries in summary["models"].items():
        value = round(float(entries["uniform_attention_distance_px"]["value"][-1]), 2)
        values.setdefault(value, []).append(method_label(label))
    return {", ".join(labels): value for value, labels in values.items()}


def attention_curves_figure(summary: dict) -> Figure:
    """Mean attention distance (per-head range shaded, each grid's uniform-attention distance dotted), the same as a
    share of uniform attention on each model's own grid, and NMI, per block; the paper's curves dashed."""
    figure = Figure(figsize=(16, 4.2), layout="constrained")
    left, middle, right = figure.subplots(1, 3)
    layer_curves_figure(summary, "attention_distance_px", ylabel="mean attention distance (px)",
                        title="attention distance", ax=left)
    _per_head_band(left, summary, "attention_distance_px")
    for index, (names, value) in enumerate(_uniform_distances(summary).items()):
        left.axhline(value, color="grey", linestyle=":", linewidth=1, label=f"uniform attention: {names} ({value} px)")
    left.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))

    share = {}
    for label, entries in summary["models"].items():
        distance, uniform = entries["attention_distance_px"], entries["uniform_attention_distance_px"]
        share[method_label(label)] = {"layer": distance["layer"],
                                  "value": [None if d is None or u is None else 100 * d / u
                                            for d, u in zip(distance["value"], uniform["value"])]}
    paper_uniform = uniform_attention_distance(12, 16)
    paper_model = summary.get("paper", {}).get("paper_model", "vit_b")
    reference = {f"{method_label(method)} ({paper_model}, read off ±0.5 %)": {"layer": rows["layer"],
                                                       "value": [100 * v / paper_uniform for v in rows["value"]]}
                 for method, rows in summary.get("paper", {}).get("attention_distance_px", {}).items()}
    layers, aligned = _aligned({**share, **{f"paper {name}": rows for name, rows in reference.items()}})
    plots.plot_layer_curves({name: aligned[name] for name in share}, layers=layers,
                            reference={name: aligned[f"paper {name}"] for name in reference},
                            ylabel="% of uniform attention on its grid", ax=middle,
                            title=f"distance / uniform ({summary['model']})")
    middle.axhline(100, color="grey", linestyle=":", linewidth=1)
    layer_curves_figure(summary, "nmi", ylabel="NMI", title="attention NMI", ax=right)
    _per_head_band(right, summary, "nmi")
    figure.suptitle(f"shaded: range over heads; dashed: the paper's curves, {PAPER_PROVENANCE}", fontsize="small")
    return figure


def attention_maps_figure(images: np.ndarray, maps: Mapping[str, np.ndarray],
                          query: tuple[int, int] | Mapping[str, tuple[int, int]], title: str = "") -> Figure:
    """Rows of images: the input, then each model's attention map of the query token (red cross), on one colour
    scale shared by every map (one colour bar).

    Args:
        images: uint8 (n, 3, H, W) input pixels.
        maps: label → float (n, g, g) attention maps (g may differ between models).
        query: (row, col) of the query token, or label → (row, col) on that model's grid.
        title: figure title.
    """
    count = images.shape[0]
    queries = {label: tuple(query[label]) if isinstance(query, Mapping) else tuple(query) for label in maps}
    figure = Figure(figsize=(2.2 * (1 + len(maps)) + 0.8, 2.2 * count + 0.4), layout="constrained")
    axes = np.asarray(figure.subplots(count, 1 + len(maps), squeeze=False))
    top = max(float(np.nanmax(values[:count])) for values in maps.values())
    first_label = next(iter(maps))
    side = maps[first_label].shape[-1]
    scale = images.shape[-1] / side
    image = None
    for row in range(count):
        axes[row, 0].imshow(images[row].transpose(1, 2, 0))
        cell = queries[first_label]
        axes[row, 0].plot((cell[1] + 0.5) * scale - 0.5, (cell[0] + 0.5) * scale - 0.5, "rx", markersize=8)
        for column, (label, values) in enumerate(maps.items(), 1):
            image = axes[row, column].imshow(values[row], cmap="viridis", vmin=0.0, vmax=top)
            axes[row, column].plot(queries[label][1], queries[label][0], "rx", markersize=8)
            if row == 0:
                axes[row, column].set_title(method_label(label), fontsize="small")
        if row == 0:
            axes[row, 0].set_title("input", fontsize="small")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if image is not None:
        figure.colorbar(image, ax=axes[:, 1:].ravel().tolist(), shrink=0.8, label="attention weight")
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
        plots.plot_fourier_profiles(analysis, labels=entries["profiles"]["layer"], title=method_label(label), ax=ax)
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
                    label=f"{method_label(label)} ({kind})")
    ax.set_xlabel("block")
    ax.set_ylabel("mean token cosine similarity")
    ax.set_title(f"token homogeneity ({summary['model']})")
    if drawn:
        ax.legend(fontsize="x-small")
    else:
        ax.text(0.5, 0.5, "measured for ViT models only", ha="center", va="center", transform=ax.transAxes)
    return figure


def tsne_figure(arrays: Mapping[str, np.ndarray], labels: list[str], layer: int,
                scores: Mapping[str, float] | None = None) -> Figure:
    """One t-SNE panel per model: every patch token of the images, coloured by the image it came from.

    Args:
        arrays: ``arrays.npz`` of the tokens section, with ``tsne/<label>/points`` (M, 2) and
            ``tsne/image_index`` (M,) (older files: ``tsne/labels``, the class).
        labels: model labels, in panel order.
        layer: the hidden-state layer the tokens came from (for the title).
        scores: label → silhouette of the tokens grouped by image, shown in the titles.
    """
    colour_by = arrays["tsne/image_index"] if "tsne/image_index" in arrays else arrays["tsne/labels"]
    figure = Figure(figsize=(4 * len(labels), 4.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(labels)))
    for ax, label in zip(axes, labels):
        score = "" if not scores or scores.get(label) is None else f"\nsilhouette by image {scores[label]:+.3f}"
        plots.plot_embedding(arrays[f"tsne/{label}/points"], colour_by,
                             title=f"{method_label(label)}: layer {layer}{score}", ax=ax)
    figure.suptitle("t-SNE of every patch token, one colour per image", fontsize="small")
    return figure


def pca_figure(arrays: Mapping[str, np.ndarray], labels: list[str], block: int) -> Figure:
    """One panel per model: the block's LN1 output and attention output on their joint 2 principal axes."""
    figure = Figure(figsize=(4 * len(labels), 4.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(labels)))
    for ax, label in zip(axes, labels):
        prefix = f"pca/{label}/"
        result = JointPCA(arrays[prefix + "pre"], arrays[prefix + "post"], arrays[prefix + "explained_variance_ratio"],
                          arrays[prefix + "components"], arrays[prefix + "mean"])
        plots.plot_pre_post_pca(result, title=f"{method_label(label)}: block {block}", ax=ax)
    return figure


#: The uint8 value of masked pixels in the ``masked`` array (``masked_input``'s grey fill 0.5).
MASK_FILL = 128


def reconstruction_mask(arrays: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The masked pixels, bool (n, H, W), of a reconstructions ``arrays.npz``.

    From the optional ``mask`` array (a token mask (n, g, g) on a grid that tiles the image, or a pixel mask
    (n, H, W); 1 = masked) where there is one; otherwise read off ``masked`` against ``reference``: the masked
    input is grey (:data:`MASK_FILL`) exactly where the mask is, and the mask is made of square tokens, so the
    largest block size whose blocks with a changed pixel are grey throughout gives the token grid (a masked token
    whose original pixels are all that grey — vanishingly rare — is read as visible). None without ``masked``.
    """
    reference = np.asarray(arrays["reference"])
    height, width = reference.shape[-2:]
    if "mask" in arrays:
        mask = np.asarray(arrays["mask"]) != 0
        if mask.ndim == 4:
            mask = mask[:, 0]
        scale = height // mask.shape[-2]
        return mask.repeat(scale, axis=-2).repeat(scale, axis=-1)[:, :height, :width]
    if "masked" not in arrays:
        return None
    masked = np.asarray(arrays["masked"])
    grey = (masked == MASK_FILL).all(axis=1)
    changed = grey & (reference != MASK_FILL).any(axis=1)
    count = reference.shape[0]
    for size in sorted((s for s in range(2, min(height, width) + 1) if height % s == 0 and width % s == 0),
                       reverse=True):
        shape = (count, height // size, size, width // size, size)
        touched = changed.reshape(shape).any(axis=(2, 4))
        if grey.reshape(shape).all(axis=(2, 4))[touched].all():
            return touched.repeat(size, axis=1).repeat(size, axis=2)
    return changed


def reconstructions_figure(arrays: Mapping[str, np.ndarray], labels: list[str], max_images: int = 4, *,
                           paste_visible: bool = True, outline: bool = True) -> Figure:
    """Columns reference / masked / each model's reconstruction, rows images (un-normalised pixels).

    As in MAE's figures, a reconstruction shows the original pixels where they were visible and the decoder's
    output only where they were masked (``paste_visible``); the masked region is outlined on every panel. The
    PSNR/SSIM of the tables are computed elsewhere and do not change with what is drawn here.

    Args:
        arrays: ``arrays.npz`` of the reconstructions section: ``reference``, ``masked`` and
            ``prediction/<label>``, uint8 (n, 3, H, W); optionally ``mask`` (token (n, g, g) or pixel (n, H, W)
            mask; without it the mask is read off ``masked``, :func:`reconstruction_mask`).
        labels: model labels, in column order.
        max_images: rows drawn at most.
        paste_visible: False draws the decoder's raw output everywhere.
        outline: outline the masked region.
    """
    mask = reconstruction_mask(arrays)
    panels = {"reference": arrays["reference"], "masked input": arrays["masked"]}
    for label in labels:
        prediction = np.asarray(arrays[f"prediction/{label}"])
        if paste_visible and mask is not None:
            prediction = np.where(mask[:, None], prediction, np.asarray(arrays["reference"]))
        panels[method_label(label)] = prediction
    figure = plots.plot_image_grid({name: images.astype(np.float32) / 255 for name, images in panels.items()},
                                   max_images=max_images, outline=mask if outline and mask is not None else None)
    if mask is not None:
        drawn = ("decoder output inside the outlined masked region, original pixels outside" if paste_visible
                 else "decoder output everywhere; outlined: the masked region")
        figure.suptitle(textwrap.fill(f"reconstructions: {drawn}", 22 * len(panels)), fontsize="small")
    return figure
