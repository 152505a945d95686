"""Figures of notebook 12: per-peer accuracy with the spread over seeds, and the dynamic-inference curves."""
from __future__ import annotations

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


def plot_dynamic_inference(curves: Mapping[str, Mapping[str, list[float]]], *, title: str = "") -> Figure:
    """Accuracy and measured throughput against the keep rate 1 − d, one line per fine-tuned model.

    Args:
        curves: ``kamim_paper.experiments.peers.sweep_curves`` output (shaded band: min–max over seeds).
    """
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    accuracy, speed = figure.subplots(1, 2)
    for index, (label, curve) in enumerate(curves.items()):
        style = "-" if label.endswith("+pss") else "--"
        color = f"C{index}"
        accuracy.plot(curve["keep_rate"], curve["top1"], style, marker="o", color=color, label=label)
        accuracy.fill_between(curve["keep_rate"], curve["top1_low"], curve["top1_high"], color=color, alpha=0.15)
        speed.plot(curve["keep_rate"], curve["images_per_s"], style, marker="o", color=color, label=label)
    for ax, ylabel in ((accuracy, "top-1 %"), (speed, "images / s (measured)")):
        ax.set_xlabel("keep rate 1 − d")
        ax.set_ylabel(ylabel)
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    accuracy.legend(fontsize="small")
    figure.suptitle(title)
    return figure
