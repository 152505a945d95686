"""The figure of notebook 11: each masking cell's held-out masked L1 and probe top-1 over seeds, beside the
baselines."""
from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure

from kamim_lib.stats import mean_and_ci
from kamim_paper.evidence.checkpoint_measures import METRICS

# metric -> (baseline key, its legend) drawn as horizontal lines
BASELINES = {"val_masked_l1": (("image_blind", "image-blind predictor"), ("random_init_l1", "random-init model")),
             "top1": (("raw_pixels", "raw pixels"), ("random_init_top1", "random-init encoder"))}


def plot_masking_evidence(evidence: dict, *, title: str = "") -> Figure:
    """Two panels (masked L1, top-1): one bar per cell at its mean over seeds with its 95 % interval (a single seed:
    no bar error), the seeds as dots, the baselines as dashed lines (legends outside the axes).

    Args:
        evidence: :func:`kamim_paper.sections.masking.masking_evidence`.
    """
    labels = list(evidence["cells"])
    if not labels:
        raise ValueError("evidence holds no cell to plot.")
    figure = Figure(figsize=(max(8.0, 1.3 * len(labels) + 4.0), 4.2), layout="constrained")
    axes = figure.subplots(1, 2)
    positions = np.arange(len(labels))
    for ax, (metric, name) in zip(axes, METRICS.items()):
        values = [evidence["cells"][label][metric] for label in labels]
        stats = [mean_and_ci(v) if len(v) >= 2 else (v[0], v[0], v[0]) for v in values]
        means = np.array([s[0] for s in stats])
        errors = np.array([[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]])
        colors = ["C7" if evidence["cells"][label]["arm"] == "random" else "C0" for label in labels]
        ax.bar(positions, means, 0.6, yerr=errors, capsize=4, color=colors, alpha=0.75)
        for position, per_seed in zip(positions, values):
            ax.scatter(np.full(len(per_seed), position), per_seed, color="k", s=8, zorder=3)
        for (key, legend), style in zip(BASELINES[metric], ("--", ":")):
            ax.axhline(evidence["baselines"][key], color="C3" if metric == "top1" else "C1", linestyle=style,
                       linewidth=1, label=f"{legend} ({'top-1' if metric == 'top1' else 'masked L1'})")
        ax.set_xticks(positions, [textwrap.fill(label, 22) for label in labels], rotation=25, ha="right",
                      fontsize="small")
        ax.set_ylabel(name + (" (lower is better)" if metric == "val_masked_l1" else " (higher is better)"))
    # one legend for both panels, in its own row under them: constrained layout makes room for it on the first
    # draw (per-axes legends anchored below the axes were cut off)
    handles = [handle for ax in axes for handle in ax.get_legend_handles_labels()[0]]
    names = [name for ax in axes for name in ax.get_legend_handles_labels()[1]]
    figure.legend(handles, names, loc="outside lower center", ncol=2, fontsize="small", frameon=False,
                  title="baselines", title_fontsize="small")
    figure.suptitle(textwrap.fill(title, 100) + f"\nbars: mean over {len(evidence['seeds'])} seeds with 95 % interval "
                    "(grey: the random-arm reference); dots: seeds", fontsize="medium")
    return figure
