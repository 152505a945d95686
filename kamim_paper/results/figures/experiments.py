"""Figures of the training notebooks: loss curves, bar charts of accuracies, and the w_ps x T heatmap.

Like ``kamim_paper.results.figures.plots``, figures are ``matplotlib.figure.Figure`` objects built without pyplot (no global
state, safe under papermill); a returned Figure renders inline in Jupyter once ``matplotlib.pyplot`` is imported.
Missing numbers (None/NaN) are drawn as "n/a", never as 0.
"""
from __future__ import annotations

import math
import textwrap
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from kamim_lib.stats import mean_and_ci
from kamim_paper.evidence.checkpoint_measures import METRICS
from kamim_paper.evidence.records import method_intervals
from kamim_paper.evidence.weighting import bin_count
from kamim_paper.experiments.runs import relative_curve


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _wrapped(text: str, figure: Figure, fontsize: float = 12.0) -> str:
    """``text`` broken into lines that fit the width of ``figure`` at ``fontsize`` points (about 0.6 em a
    character), so a title never runs off the canvas."""
    characters = max(20, int(figure.get_figwidth() * 72 / (0.6 * fontsize)) - 4)
    return textwrap.fill(text, characters)


def plot_loss_curves(curves: Mapping[str, Mapping[str, Sequence[float]]], *, title: str = "",
                     note: str = "") -> Figure:
    """Training loss per epoch of several runs: as logged (left) and divided by the first epoch's value (right).

    The right panel makes curves of different scales comparable: KAMIM's loss under the original normalisation
    (÷ 3ΣM) is a weighted sum whose weights are >= 1, so its values are larger than SimMIM's by construction.

    Args:
        curves: label -> ``{"epoch": [...], "train_loss": [...]}`` (:func:`~kamim_paper.experiments.runs.
            read_loss_curve`).
        title: figure title.
        note: a line of text under the panels (e.g. the loss normalisation).

    Returns:
        The Figure (two Axes).
    """
    if not curves:
        raise ValueError("curves must hold at least one run's loss curve.")
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    raw, relative = figure.subplots(1, 2)
    for label, curve in curves.items():
        if len(curve["epoch"]) != len(curve["train_loss"]):
            raise ValueError(f"curve {label!r}: epoch and train_loss have different lengths.")
        raw.plot(curve["epoch"], curve["train_loss"], marker="o", markersize=3, label=label)
        relative.plot(curve["epoch"], relative_curve(curve["train_loss"]), marker="o", markersize=3, label=label)
    raw.set_ylabel("train loss (as logged)")
    relative.set_ylabel("train loss / first epoch's")
    for ax in (raw, relative):
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    if note:
        figure.supxlabel(note, fontsize="small")
    return figure


def plot_metric_bars(values: Mapping[str, Mapping[str, float | None]], *, ylabel: str = "", title: str = "") -> Figure:
    """Grouped bars: one group per variant, one bar per metric (e.g. linear top-1 and kNN top-1).

    Args:
        values: variant label -> {metric name: value or None}; a missing value is written "n/a" in place of a bar.
        ylabel, title: axis label and title.

    Returns:
        The Figure.
    """
    if not values:
        raise ValueError("values must hold at least one variant.")
    metrics = list(dict.fromkeys(name for group in values.values() for name in group))
    figure = Figure(figsize=(max(4.5, 1.1 * len(values) * max(1, len(metrics)) + 1.5), 3.8), layout="constrained")
    ax = figure.add_subplot()
    width = 0.8 / max(1, len(metrics))
    positions = np.arange(len(values))
    tallest = 0.0
    for index, metric in enumerate(metrics):
        offsets = positions - 0.4 + width * (index + 0.5)
        heights = [values[label].get(metric) for label in values]
        bars = ax.bar(offsets, [0 if _missing(h) else h for h in heights], width, label=metric)
        for bar, height in zip(bars, heights):
            text = "n/a" if _missing(height) else f"{height:.1f}"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize="x-small")
            tallest = max(tallest, 0.0 if _missing(height) else float(height))
    ax.set_ylim(0, max(tallest, 1e-9) * 1.12)  # room for the value labels
    ax.set_xticks(positions, list(values))
    ax.set_ylabel(ylabel)
    ax.set_title(_wrapped(title, figure))
    if metrics:
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(metrics), frameon=False)
    return figure


def plot_heatmaps(matrices: Mapping[str, Sequence[Sequence[float | None]]], *, row_labels: Sequence,
                  column_labels: Sequence, row_name: str, column_name: str, title: str = "",
                  value_format: str = "{:.2f}", centers: Mapping[str, float | None] | None = None,
                  seed_values: Mapping[str, Sequence[Sequence[Sequence[float]]]] | None = None) -> Figure:
    """Side-by-side annotated heatmaps over the same grid (e.g. top-1 and final loss over w_ps x T).

    A grid of one cell is no heatmap: each panel then shows the cell's value as a point (with the seeds and their
    95 % interval when ``seed_values`` gives them) beside the reference of ``centers`` (:func:`_single_cell`).

    Args:
        matrices: panel title -> rows x columns values (None/NaN cells are grey and written "n/a").
        row_labels, column_labels: tick labels.
        row_name, column_name: axis labels.
        title: figure title.
        value_format: how each cell's number is written.
        centers: panel title -> a reference value (e.g. SimMIM's) at the middle of a diverging colour scale, so
            cells above it are red and below it blue, whatever the grid's own range; panels not named keep a
            sequential scale.

        seed_values: panel title -> rows x columns lists of per-seed values (optional; drawn for a one-cell grid).

    Returns:
        The Figure (one Axes per matrix, each with its colour bar; one Axes per matrix, no colour bar, for one cell).
    """
    if not matrices:
        raise ValueError("matrices must hold at least one panel.")
    shape = (len(row_labels), len(column_labels))
    if shape == (1, 1):
        return _single_cell(matrices, cell=f"{row_name} = {row_labels[0]}, {column_name} = {column_labels[0]}",
                            title=title, value_format=value_format, centers=centers, seed_values=seed_values)
    figure = Figure(figsize=(4.2 * len(matrices) + 0.5, 0.6 * shape[0] + 2.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(matrices)))
    for ax, (name, matrix) in zip(axes, matrices.items()):
        values = np.array([[np.nan if _missing(v) else float(v) for v in row] for row in matrix], dtype=float)
        if values.shape != shape:
            raise ValueError(f"panel {name!r} is {values.shape[0]} x {values.shape[1] if values.ndim > 1 else 0}; "
                             f"the labels give {shape[0]} x {shape[1]}.")
        ax.set_facecolor("0.85")
        finite = values[np.isfinite(values)]
        center = (centers or {}).get(name)
        if center is not None and finite.size:
            from matplotlib.colors import TwoSlopeNorm

            spread = max(float(np.abs(finite - center).max()), 1e-9)
            norm = TwoSlopeNorm(vcenter=center, vmin=center - spread, vmax=center + spread)
            image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu_r", norm=norm, aspect="auto")
            colorbar = figure.colorbar(image, ax=ax, shrink=0.8)
            colorbar.ax.axhline(center, color="black", linewidth=1.5)
            colorbar.set_label(f"centre = reference {value_format.format(center)}", fontsize="small")
            dark = lambda value: abs(value - center) > 0.6 * spread  # noqa: E731
        else:
            image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto")
            figure.colorbar(image, ax=ax, shrink=0.8)
            middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
            dark = lambda value: value <= middle  # noqa: E731
        for (row, column), value in np.ndenumerate(values):
            text = "n/a" if np.isnan(value) else value_format.format(value)
            ax.text(column, row, text, ha="center", va="center", fontsize="small",
                    color="black" if np.isnan(value) or not dark(value) else "white")
        ax.set_xticks(range(shape[1]), [str(label) for label in column_labels])
        ax.set_yticks(range(shape[0]), [str(label) for label in row_labels])
        ax.set_xlabel(column_name)
        ax.set_ylabel(row_name)
        ax.set_title(name)
    if title:
        figure.suptitle(title)
    return figure


def _single_cell(matrices: Mapping[str, Sequence[Sequence[float | None]]], *, cell: str, title: str,
                 value_format: str, centers: Mapping[str, float | None] | None,
                 seed_values: Mapping[str, Sequence[Sequence[Sequence[float]]]] | None) -> Figure:
    """One panel per metric for a grid of one cell: its value (a square; with seeds: dots and the mean's 95 %
    interval) and the reference of ``centers`` as a dashed line."""
    figure = Figure(figsize=(3.6 * len(matrices) + 0.8, 4.0), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(matrices)))
    for ax, (name, matrix) in zip(axes, matrices.items()):
        value = matrix[0][0]
        seeds = [float(v) for v in ((seed_values or {}).get(name) or [[[]]])[0][0] if not _missing(v)]
        center = (centers or {}).get(name)
        if seeds:
            ax.scatter(np.linspace(-0.08, 0.08, len(seeds)), seeds, s=12, color="0.4", zorder=3, label="seeds")
        if len(seeds) >= 2:
            mean, low, high = mean_and_ci(seeds)
            ax.errorbar(0, mean, yerr=[[mean - low], [high - mean]], fmt="s", capsize=8, markersize=8, color="C0",
                        zorder=4, label=f"mean, 95 % CI ({len(seeds)} seeds)")
        elif not _missing(value):
            ax.plot(0, value, "s", markersize=8, color="C0", zorder=4,
                    label="mean (no per-seed values given: no interval)")
        if _missing(value):
            ax.text(0.5, 0.5, "n/a", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.annotate(value_format.format(value), (0, value), xytext=(30, 0), textcoords="offset points",
                        va="center", fontsize="small", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        if center is not None:
            ax.axhline(center, color="C3", linestyle="--", linewidth=1,
                       label=f"reference {value_format.format(center)}")
        ax.set_xlim(-0.5, 0.5)
        ax.set_xticks([0], [textwrap.fill(cell, 40)], fontsize="small")
        ax.set_title(textwrap.fill(name, 40), fontsize="medium")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    figure.suptitle(textwrap.fill((f"{title}: " if title else "") + "one cell of the grid, so no heatmap",
                                  int(figure.get_figwidth() * 11)),
                    fontsize="medium")
    return figure


def plot_evidence(record: dict, *, ylabel: str, title: str = "", baseline_names: Mapping[str, str] | None = None
                  ) -> Figure:
    """Each method's per-seed values (dots), mean and 95 % interval (error bar), beside the baselines (dashed
    lines), and on the right the paired difference with its interval against 0.

    Args:
        record: an evidence record (``kamim_paper.evidence.records``).
        ylabel: the metric's axis label.
        title: figure title.
        baseline_names: baseline key -> legend text.

    Returns:
        The Figure (two Axes).
    """
    names = dict(baseline_names or {})
    metric = record["paired_difference"]["metric"]
    intervals = method_intervals(record)
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    values_ax, difference_ax = figure.subplots(1, 2, width_ratios=(2.2, 1))
    for index, (method, (mean, low, high)) in enumerate(intervals.items()):
        seeds = record[metric][method]
        values_ax.scatter(np.full(len(seeds), index) + np.linspace(-0.12, 0.12, len(seeds)), seeds, s=14,
                          color="0.4", zorder=3)
        values_ax.errorbar(index, mean, yerr=[[mean - low], [high - mean]], fmt="s", capsize=6, markersize=8,
                           zorder=4, label=f"{method}: mean and 95 % CI over seeds")
    styles = ["--", ":", "-."]
    for index, (name, value) in enumerate(record["baselines"].items()):
        values_ax.axhline(value, linestyle=styles[index % len(styles)], color=f"C{index + 2}",
                          label=f"baseline: {names.get(name, name)}")
    values_ax.set_xticks(range(len(intervals)), list(intervals))
    values_ax.set_xlim(-0.6, len(intervals) - 0.4)
    values_ax.set_ylabel(ylabel)
    values_ax.legend(fontsize="x-small")
    values_ax.grid(alpha=0.3, axis="y")
    difference = record["paired_difference"]
    low, high = difference["ci95"]
    difference_ax.errorbar(0, difference["mean"], yerr=[[difference["mean"] - low], [high - difference["mean"]]],
                           fmt="o", capsize=8, color="C3")
    difference_ax.axhline(0.0, color="black", linewidth=0.8)
    difference_ax.set_xticks([0], [f"{difference['a']} − {difference['b']}"])
    difference_ax.set_xlim(-1, 1)
    difference_ax.set_title(f"paired, {len(record['seeds'])} seeds, 95 % CI", fontsize="small")
    difference_ax.grid(alpha=0.3, axis="y")
    if title:
        figure.suptitle(title)
    return figure


def _density_tick(row: dict) -> str:
    """A density bin's tick label: its density range (or "no kp") and its patch count."""
    count = bin_count(row)
    if row.get("label") == "no keypoints":
        name = "no\nkeypoints"
    elif "density_low" not in row or "density_high" not in row:
        name = f"bin {row['decile']}"
    elif row["density_low"] == row["density_high"]:
        name = f"{row['density_low']:.2f}"
    else:
        name = f"{row['density_low']:.2f}–\n{row['density_high']:.2f}"
    return name + ("" if count is None else f"\nn={count}")


def plot_density_deciles(deciles: Mapping[str, Sequence[dict]], *, title: str = "") -> Figure:
    """Unweighted reconstruction error of masked patches per keypoint-density bin, one line per model.

    The bins are :func:`kamim_paper.evidence.weighting.error_by_density_decile`'s: the masked patches without
    keypoints, then quantile bins of the rest that never split equal densities. Each tick gives the bin's density
    range and its patch count ``n``; the bins are drawn at equal spacing (the axis is an order, not a density scale).

    Args:
        deciles: label -> :func:`kamim_paper.evidence.weighting.error_by_density_decile` rows (optionally with
            ``error_low`` / ``error_high``: an interval over seeds, drawn as error bars). Every model's rows are the
            same bins (the same held-out patches).
    """
    if not deciles:
        raise ValueError("deciles must hold at least one model.")
    bins = max(len(rows) for rows in deciles.values())
    figure = Figure(figsize=(max(8.5, 0.75 * bins + 3.5), 4.4), layout="constrained")
    ax = figure.add_subplot()
    for label, rows in deciles.items():
        x = np.arange(len(rows))
        y = [row["error_mean"] for row in rows]
        if all("error_low" in row for row in rows):
            ax.errorbar(x, y, yerr=[[row["error_mean"] - row["error_low"] for row in rows],
                                    [row["error_high"] - row["error_mean"] for row in rows]],
                        marker="o", markersize=3, capsize=3, label=label)
        else:
            ax.plot(x, y, marker="o", markersize=3, label=label)
    longest = max(deciles.values(), key=len)
    ax.set_xticks(np.arange(bins), [_density_tick(row) for row in longest], fontsize="x-small")
    zero_bin = longest[0].get("label") == "no keypoints"
    if zero_bin:
        ax.axvline(0.5, color="0.6", linewidth=0.8, linestyle=":")
    split_ties = "label" not in longest[0] and any(
        row.get("density_high", -1) == following.get("density_low", -2) for row, following in zip(longest, longest[1:]))
    if zero_bin:
        kind = "no keypoints, then quantile bins of the rest (ties never split)"
    elif split_ties:
        kind = "deciles of an older record, which split equal densities across bins (recompute for tie-aware bins)"
    else:
        kind = "quantile bins (ties never split)"
    ax.set_xlabel(textwrap.fill(f"keypoint density Ω of the masked patches: {kind}; n = patches per bin",
                                int(figure.get_figwidth() * 12)))
    ax.set_ylabel("unweighted masked L1 of the patch")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: covers no curve
    ax.grid(alpha=0.3)
    if title:
        figure.suptitle(textwrap.fill(title, 90), fontsize="medium")
    return figure


def plot_paired_comparisons(comparisons: Sequence[dict], *, metric_names: Mapping[str, str], seeds: int,
                            title: str = "") -> Figure:
    """One panel per metric: each comparison's mean paired difference ``a − b`` with its 95 % interval (error
    bar; a dot alone where there is no interval), against the zero line.

    Args:
        comparisons: ``{"a", "b", "metric", "mean", "ci95"}`` entries
            (:func:`kamim_paper.evidence.ablation.paired_comparisons`).
        metric_names: metric -> axis label, in panel order (metrics without comparisons are left out).
        seeds: how many paired seeds the differences are over (for the titles).
    """
    metrics = [metric for metric in metric_names if any(entry["metric"] == metric for entry in comparisons)]
    if not metrics:
        raise ValueError("comparisons holds no entry of the metrics named in metric_names.")
    by_metric = {metric: [entry for entry in comparisons if entry["metric"] == metric] for metric in metrics}
    names = {metric: [f"{entry['a']} − {entry['b']}" for entry in entries] for metric, entries in by_metric.items()}
    # the same comparisons in every panel: their names once, on the left (long names left the panels no room)
    shared = all(names[metric] == names[metrics[0]] for metric in metrics)
    longest = max(len(name) for metric in (metrics[:1] if shared else metrics) for name in names[metric])
    label_inches = 0.075 * longest  # "small" tick labels
    figure = Figure(figsize=(4.2 * len(metrics) + label_inches * (1 if shared else len(metrics)) + 0.5,
                             1.5 + 0.45 * max(len(entries) for entries in by_metric.values())), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(metrics), sharey=shared))
    for index, (ax, metric) in enumerate(zip(axes, metrics)):
        entries = by_metric[metric]
        for row, entry in enumerate(entries):
            if entry["ci95"] is None:
                ax.plot(entry["mean"], row, "o", color="C0")
            else:
                low, high = entry["ci95"]
                excludes_zero = not low <= 0 <= high
                ax.errorbar(entry["mean"], row, xerr=[[entry["mean"] - low], [high - entry["mean"]]], fmt="o",
                            capsize=4, color="C3" if excludes_zero else "C0")
        ax.axvline(0.0, color="black", linewidth=0.8)
        if shared and index:
            ax.tick_params(axis="y", labelleft=False)
        else:
            ax.set_yticks(range(len(entries)), names[metric], fontsize="small")
        if not shared or index == 0:  # shared: inverting one inverts all
            ax.invert_yaxis()
        ax.set_xlabel(textwrap.fill(f"paired difference, {metric_names[metric]}", 45))
        ax.grid(alpha=0.3, axis="x")
    note = f"mean and 95 % CI over {seeds} seeds (red: the interval excludes 0)"
    figure.suptitle((textwrap.fill(title, 110) + "\n" if title else "") + note, fontsize="medium")
    return figure


def ablation_comparisons_figure(evidence: dict, *, title: str) -> Figure:
    """Every paired difference of an ablation record (notebooks 05/06) with its 95 % interval, one panel per metric."""
    return plot_paired_comparisons(evidence["comparisons"], metric_names=METRICS,
                                                    seeds=len(evidence["seeds"]), title=title)


def ablation_density_figure(evidence: dict) -> Figure:
    """Unweighted masked-patch error per keypoint-density bin of every variant (mean and 95 % CI over seeds)."""
    return plot_density_deciles(
        evidence["error_by_density_decile"],
        title=f"masked-patch error by {evidence['deciles_by']['detector']} keypoint density (w_ps = "
              f"{evidence['deciles_by']['weight_patch_size']} px; mean and 95 % CI over {len(evidence['seeds'])} "
              f"seeds)")
