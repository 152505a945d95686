"""Figures of notebook 12: per-peer accuracy with the spread over seeds, and the dynamic-inference curves."""
from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def plot_seed_bars(values: Mapping[str, Mapping[int, float]], *, ylabel: str = "top-1 %", title: str = "") -> Figure:
    """One bar per variant at its mean over seeds, error bars from the lowest to the highest seed, seeds as dots.

    Args:
        values: ``{label: {seed: value}}`` (``kamim_paper.experiments.peers.per_seed``).
    """
    if not values:
        raise ValueError("values must hold at least one variant.")
    labels = list(values)
    means = np.array([np.mean(list(values[label].values())) for label in labels])
    lows = np.array([min(values[label].values()) for label in labels])
    highs = np.array([max(values[label].values()) for label in labels])
    figure = Figure(figsize=(max(4.5, 1.2 * len(labels) + 1.5), 3.8), layout="constrained")
    ax = figure.add_subplot()
    positions = np.arange(len(labels))
    ax.bar(positions, means, 0.6, yerr=np.stack([means - lows, highs - means]), capsize=4, color="C0", alpha=0.7)
    for position, label in zip(positions, labels):
        seeds = list(values[label].values())
        ax.scatter(np.full(len(seeds), position), seeds, color="k", s=10, zorder=3)
        ax.annotate(f"{means[position]:.1f}\n(n={len(seeds)})", (position, highs[position]), ha="center",
                    va="bottom", fontsize="x-small")
    ax.set_xticks(positions, labels, rotation=20, ha="right")
    ax.set_ylim(0, max(float(highs.max()), 1e-9) * 1.2)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return figure


#: Fewer independent timings than this per point and throughput is not plotted (one timing on a shared machine is
#: noise: 60 vs 1703 images/s at the same token count was measured once).
MIN_TIMINGS = 3
TIMING_NOTE = ("throughput not plotted: {timings} timing per point (a single timing on a shared machine is noise); "
               "benchmarks/pss_step.py times the step per drop ratio, repeated, on an otherwise idle machine")


def sweep_costs(sweeps: Sequence[dict]) -> dict[str, dict[str, list]]:
    """Per label, in the keep-rate order of ``sweep_curves`` (descending): the tokens kept per image and the
    throughput over seeds, ``{label: {"keep_rate", "tokens", "images_per_s_median", "images_per_s_low",
    "images_per_s_high", "timings"}}`` (``timings``: how many seeds timed each point; ``tokens`` only where the
    sweep rows record it).

    Args:
        sweeps: the peers summary's ``sweeps`` (``{"label", "seed", "rows": [{"keep_rate", "tokens",
            "images_per_s", ...}]}``).
    """
    grouped: dict[str, dict[float, list[dict]]] = {}
    for sweep in sweeps:
        for row in sweep["rows"]:
            grouped.setdefault(sweep["label"], {}).setdefault(row["keep_rate"], []).append(row)
    costs = {}
    for label, by_rate in grouped.items():
        rates = sorted(by_rate, reverse=True)
        speeds = [[float(row["images_per_s"]) for row in by_rate[rate] if row.get("images_per_s") is not None]
                  for rate in rates]
        costs[label] = {"keep_rate": rates, "timings": [len(values) for values in speeds],
                        "images_per_s_median": [float(np.median(values)) if values else np.nan for values in speeds],
                        "images_per_s_low": [min(values, default=np.nan) for values in speeds],
                        "images_per_s_high": [max(values, default=np.nan) for values in speeds]}
        if all("tokens" in row for rate in rates for row in by_rate[rate]):
            costs[label]["tokens"] = [by_rate[rate][0]["tokens"] for rate in rates]
    return costs


def plot_dynamic_inference(curves: Mapping[str, Mapping[str, list[float]]], *, title: str = "",
                           sweeps: Sequence[dict] | None = None, min_timings: int = MIN_TIMINGS) -> Figure:
    """Accuracy against the keep rate 1 − d, one line per fine-tuned model, and what the keep rate costs.

    Throughput is drawn only where every point has at least ``min_timings`` independent timings (seeds): their
    median, with the min–max range shaded. Otherwise the right panel gives the tokens the encoder processes per
    image (exact), or, without token counts, there is no right panel; either way a note says where the timing is
    measured properly (``benchmarks/pss_step.py``).

    Args:
        curves: ``sweep_curves`` output (``{label: {"keep_rate", "top1", "top1_low", "top1_high", ...}}``; shaded
            band: min–max over seeds); ``tokens`` / ``timings`` / ``images_per_s_median|low|high`` are used where
            present.
        title: figure title.
        sweeps: the raw sweep records (the peers summary's ``sweeps``), from which tokens and the timings' spread
            are taken (:func:`sweep_costs`); optional.
        min_timings: timings per point needed to plot throughput.
    """
    costs = sweep_costs(sweeps) if sweeps is not None else {}
    merged = {label: {**curve, **costs.get(label, {})} for label, curve in curves.items()}
    timings = min((min(curve.get("timings") or [1]) for curve in merged.values()), default=0)
    timed = timings >= min_timings and all("images_per_s_median" in curve for curve in merged.values())
    with_tokens = all("tokens" in curve for curve in merged.values()) and bool(merged)
    two_panels = timed or with_tokens
    figure = Figure(figsize=(10, 4.4) if two_panels else (6, 4.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, 2 if two_panels else 1))
    accuracy = axes[0]
    cost = axes[1] if two_panels else None
    for index, (label, curve) in enumerate(merged.items()):
        style = "-" if label.endswith("+pss") else "--"
        color = f"C{index}"
        accuracy.plot(curve["keep_rate"], curve["top1"], style, marker="o", color=color, label=label)
        accuracy.fill_between(curve["keep_rate"], curve["top1_low"], curve["top1_high"], color=color, alpha=0.15)
        if timed:
            cost.plot(curve["keep_rate"], curve["images_per_s_median"], style, marker="o", color=color, label=label)
            cost.fill_between(curve["keep_rate"], curve["images_per_s_low"], curve["images_per_s_high"], color=color,
                              alpha=0.15)
        elif cost is not None:
            cost.plot(curve["keep_rate"], curve["tokens"], style, marker="o", color=color, label=label)
    labelled = [(accuracy, "top-1 % (min–max over seeds shaded)")]
    if cost is not None:
        labelled.append((cost, f"images / s (median of {timings}+ timings, min–max shaded)" if timed
                         else "tokens per image (CLS included)"))
    if not timed:
        note = TIMING_NOTE.format(timings=f"only {timings}" if timings else "no")
        figure.supxlabel(textwrap.fill(note, int(figure.get_figwidth() * 12)), fontsize="x-small", color="0.3")
    for ax, ylabel in labelled:
        ax.set_xlabel("keep rate 1 − d")
        ax.set_ylabel(ylabel)
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    accuracy.legend(fontsize="small")
    if title:
        figure.suptitle(textwrap.fill(title, int(figure.get_figwidth() * 10)))
    return figure
