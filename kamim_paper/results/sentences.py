"""The results room's sentences: one interval formatter (:func:`interval`, :func:`difference`), one verdict builder
(:func:`a_is_better`), and the generated sentences several sections share.

A paired difference is ``{"mean", "ci95"}`` of ``a − b`` over paired seeds (``ci95`` ``[low, high]``, None with a
single seed). Every generated text that prints one, or says who is better, goes through these functions, so a table,
a notebook's conclusions and the README's digest cannot disagree on what an interval allows to say.
"""
from __future__ import annotations

from typing import Sequence

from kamim_paper.evidence.checkpoint_measures import DIGITS, LOWER_IS_BETTER, METRICS


def interval(ci: Sequence[float] | None, number_format: str, *, missing: str = "single seed: no interval") -> str:
    """``"[low, high]"`` in ``number_format`` (e.g. ``"+.4f"``); ``missing`` when there is no interval (None)."""
    if ci is None:
        return missing
    low, high = ci
    return f"[{low:{number_format}}, {high:{number_format}}]"


def difference(mean: float, ci: Sequence[float] | None, number_format: str, *, unit: str = "", named: bool = False,
               one_seed: str = " (one seed: no interval)") -> str:
    """``"mean[unit] [low, high]"``, or ``"mean[unit] (95 % CI [low, high])"`` when ``named``; ``mean`` followed by
    ``one_seed`` when there is no interval (``ci`` None)."""
    text = f"{mean:{number_format}}{unit}"
    if ci is None:
        return text + one_seed
    return f"{text} (95 % CI {interval(ci, number_format)})" if named else f"{text} {interval(ci, number_format)}"


def contains_zero(ci: Sequence[float]) -> bool:
    """Whether the interval ``[low, high]`` contains 0 (the run cannot tell the two apart)."""
    low, high = ci
    return low <= 0 <= high


def a_is_better(mean: float, ci: Sequence[float], *, lower_is_better: bool) -> bool | None:
    """The verdict on a paired difference ``a − b``: True when ``a`` is better, False when ``b`` is, None when the
    interval contains 0 (no verdict)."""
    if contains_zero(ci):
        return None
    return (mean < 0) == lower_is_better


def difference_verdict(record: dict, *, lower_is_better: bool = False) -> str:
    """One generated sentence on an evidence record's paired difference
    (:mod:`kamim_paper.evidence.records`): does the paired interval exclude zero, and in whose favour."""
    difference_ = record["paired_difference"]
    a, b, metric = difference_["a"], difference_["b"], difference_["metric"]
    span = (f"{a} − {b} = {difference_['mean']:+.4g} (95 % CI {interval(difference_['ci95'], '+.4g')}, "
            f"{len(record['seeds'])} paired seeds)")
    better = a_is_better(difference_["mean"], difference_["ci95"], lower_is_better=lower_is_better)
    if better is None:
        return f"{span}: the interval contains 0, so this run cannot tell {a} and {b} apart on {metric}."
    return f"{span}: the interval excludes 0; {a if better else b} is better on {metric} in this setting."


def interval_sentence(span: str, entry: dict, seeds: int, number_format: str, verdict, *,
                      lower_is_better: bool) -> str:
    """One generated sentence on a paired difference ``entry`` (``{"mean", "ci95"}``, a − b).

    Args:
        span: what is compared, e.g. ``"kamim sift − simmim, held-out masked L1"``.
        number_format: format spec of the numbers, e.g. ``"+.4f"``.
        verdict: ``a_is_better -> text`` for an interval that excludes 0.
        lower_is_better: the metric's direction.
    """
    text = f"{span}: {entry['mean']:{number_format}}"
    if entry["ci95"] is None:
        return f"{text} on one seed: no interval, no conclusion."
    text += f" (95 % CI {interval(entry['ci95'], number_format)}, {seeds} paired seeds)"
    better = a_is_better(entry["mean"], entry["ci95"], lower_is_better=lower_is_better)
    if better is None:
        return f"{text}: the interval contains 0, so this run cannot tell them apart."
    return f"{text}: the interval excludes 0; {verdict(better)}."


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def comparison_sentences(evidence: dict) -> list[str]:
    """One generated sentence per comparison of an ablation record (notebooks 05/06): the paired difference, its
    interval, and what it allows to say; then each variant against the image-blind predictor."""
    sentences = []
    seeds = len(evidence["seeds"])
    for entry in evidence["comparisons"]:
        metric = entry["metric"]
        sentences.append(interval_sentence(
            f"{entry['a']} − {entry['b']}, {METRICS[metric]}", entry, seeds, f"+.{DIGITS[metric]}f",
            lambda a_better, entry=entry: f"{entry['a'] if a_better else entry['b']} is better here",
            lower_is_better=LOWER_IS_BETTER[metric]))
    blind = evidence["baselines"]["image_blind"]
    for label, values in evidence["val_masked_l1"].items():
        ratio = _mean(values) / blind
        sentences.append(f"{label}: held-out masked L1 is {ratio:.2f} × the image-blind predictor's "
                         f"({'beats' if ratio < 1 else 'does not beat'} it).")
    return sentences


def _sparsest_name(row: dict) -> str:
    return "no-keypoints bin" if row.get("label") == "no keypoints" else "sparsest"


def _bin_legend(rows: list[dict]) -> str:
    """Which bin numbers are the ends: "0 = no keypoints, 9 = densest" (or "10 = densest" for old decile records)."""
    ends = [f"{rows[0]['decile']} = no keypoints"] if rows[0].get("label") == "no keypoints" else []
    return ", ".join(ends + [f"{rows[-1]['decile']} = densest"])


def decile_sentences(evidence: dict) -> list[str]:
    """Per compared pair: the paired difference of the masked-patch error in the densest keypoint-density bin and in
    the sparsest one (the "no keypoints" bin where there is one; 95 % CI), and the bins where the interval puts
    ``a`` below or above ``b`` (bins as :func:`kamim_paper.evidence.weighting.error_by_density_decile` cuts them)."""
    seeds = len(evidence["seeds"])
    detector = evidence["deciles_by"]["detector"]
    sentences = []
    for comparison in evidence.get("decile_comparisons", []):
        rows = comparison["deciles"]
        a, b = comparison["a"], comparison["b"]
        densest, sparsest = (difference(row["mean"], row["ci95"], "+.3f", one_seed=" (one seed)")
                             for row in (rows[-1], rows[0]))
        sentence = (f"{a} − {b}, unweighted masked-patch error by {detector} keypoint density ({seeds} paired "
                    f"seeds): densest bin {densest}, {_sparsest_name(rows[0])} {sparsest}")
        if rows[0]["ci95"] is not None:
            lower = [str(row["decile"]) for row in rows if row["ci95"][1] < 0]
            higher = [str(row["decile"]) for row in rows if row["ci95"][0] > 0]
            sentence += (f"; {a} is lower (interval below 0) in bins {', '.join(lower) or 'none'} and higher in "
                         f"{', '.join(higher) or 'none'} ({_bin_legend(rows)})")
        sentences.append(sentence + ".")
    return sentences


def ablation_conclusions(evidence: dict) -> list[str]:
    """One generated sentence per paired comparison of an ablation record, then per density-bin comparison."""
    return comparison_sentences(evidence) + decile_sentences(evidence)
