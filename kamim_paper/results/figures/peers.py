"""Figures of notebook 12: per-peer accuracy with the spread over seeds, and the dynamic-inference curves."""
from __future__ import annotations

import textwrap
from typing import Mapping

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


def plot_dynamic_inference(curves: Mapping[str, Mapping[str, list[float]]], *, title: str = "",
                           min_timings: int = MIN_TIMINGS) -> Figure:
    """Accuracy against the keep rate 1 − d, one line per fine-tuned model, and what the keep rate costs.

    The right panel draws the measured throughput only where every point has at least ``min_timings``
    independent timings (seeds): their median, with the min–max range shaded. Otherwise it draws the number of
    tokens the encoder processes per image (exact, from the sweep), and says where the timing is measured
    properly (``benchmarks/pss_step.py``).

    Args:
        curves: ``kamim_paper.experiments.peers.sweep_curves`` output (shaded band: min–max over seeds).
        title: figure title.
        min_timings: timings per point needed to plot throughput.
    """
    figure = Figure(figsize=(10, 4.4), layout="constrained")
    accuracy, cost = figure.subplots(1, 2)
    timings = min((min(curve.get("timings", [1])) for curve in curves.values()), default=0)
    timed = timings >= min_timings and all("images_per_s_median" in curve for curve in curves.values())
    for index, (label, curve) in enumerate(curves.items()):
        style = "-" if label.endswith("+pss") else "--"
        color = f"C{index}"
        accuracy.plot(curve["keep_rate"], curve["top1"], style, marker="o", color=color, label=label)
        accuracy.fill_between(curve["keep_rate"], curve["top1_low"], curve["top1_high"], color=color, alpha=0.15)
        if timed:
            cost.plot(curve["keep_rate"], curve["images_per_s_median"], style, marker="o", color=color, label=label)
            cost.fill_between(curve["keep_rate"], curve["images_per_s_low"], curve["images_per_s_high"], color=color,
                              alpha=0.15)
        elif "tokens" in curve:
            cost.plot(curve["keep_rate"], curve["tokens"], style, marker="o", color=color, label=label)
    if timed:
        cost_label = f"images / s (median of {timings}+ timings, min–max shaded)"
    else:
        cost_label = "tokens per image (CLS included)"
        note = TIMING_NOTE.format(timings=f"only {timings}" if timings else "no")
        figure.supxlabel(textwrap.fill(note, 120), fontsize="x-small", color="0.3")
        if not any("tokens" in curve for curve in curves.values()):
            cost.text(0.5, 0.5, textwrap.fill(note, 40), ha="center", va="center", transform=cost.transAxes,
                      fontsize="small", color="0.3")
    for ax, ylabel in ((accuracy, "top-1 % (min–max over seeds shaded)"), (cost, cost_label)):
        ax.set_xlabel("keep rate 1 − d")
        ax.set_ylabel(ylabel)
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    accuracy.legend(fontsize="small")
    if title:
        figure.suptitle(textwrap.fill(title, 100))
    return figure
