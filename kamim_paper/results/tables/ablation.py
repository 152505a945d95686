"""The markdown tables of an ablation record (notebooks 05 and 06: :mod:`kamim_paper.evidence.ablation`)."""
from __future__ import annotations

from typing import Sequence

from kamim_paper.evidence.checkpoint_measures import DIGITS, METRICS
from kamim_paper.results.sentences import interval
from kamim_paper.results.tables.markdown import NOT_AVAILABLE, markdown_table


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def ablation_tables(evidence: dict, *, title: str, reference: str = "simmim") -> str:
    """Markdown: per variant its mean masked L1 and top-1 with the paired difference to ``reference`` (95 % CI),
    the baselines under it, then every other comparison of the record."""
    against = {(entry["a"], entry["metric"]): entry for entry in evidence["comparisons"] if entry["b"] == reference}
    rows = []
    for label in evidence["top1"]:
        row = [label, str(len(evidence["seeds"]))]
        for metric in METRICS:
            digits = DIGITS[metric]
            row.append(f"{_mean(evidence[metric][label]):.{digits}f}")
            entry = against.get((label, metric))
            row += (["reference", "-"] if label == reference else ["-", "-"]) if entry is None else \
                [f"{entry['mean']:+.{digits}f}", interval(entry["ci95"], f"+.{digits}f")]
        rows.append(row + [NOT_AVAILABLE])
    header = ["variant", "seeds"]
    for name in METRICS.values():
        header += [f"{name} (mean)", f"Δ vs {reference}", "95 % CI"]
    baselines = evidence["baselines"]
    text = (f"### {title}\n\n" + markdown_table(header + ["paper"], rows) +
            f"\n\nBaselines — held-out masked L1 (lower is better): image-blind {baselines['image_blind']:.4f}, "
            f"random-init {baselines['random_init_l1']:.4f}; probe top-1: raw pixels {baselines['raw_pixels']:.2f} %, "
            f"random-init encoder {baselines['random_init_top1']:.2f} %. Held-out set: "
            f"{evidence['held_out']['images']} validation images; probe: {evidence['classifier']}. Paper: n/a (the "
            "paper's ablations are ImageNet ViT-B numbers, not comparable with this setting).\n")
    others = [entry for entry in evidence["comparisons"] if entry["b"] != reference]
    if others:
        other_rows = [[f"{entry['a']} − {entry['b']}", METRICS[entry["metric"]],
                       f"{entry['mean']:+.{DIGITS[entry['metric']]}f}",
                       interval(entry["ci95"], f"+.{DIGITS[entry['metric']]}f")]
                      for entry in others]
        text += ("\n\n#### Other paired comparisons\n\n"
                 + markdown_table(["a − b", "metric", "mean", "95 % CI"], other_rows) + "\n\n")
    return text
