"""Notebook 12's experiments: KAMIM beside its peers (PEERS §6.2) on one footing, with paired seeds.

Peers (``methods``): ``simmim``, ``kamim``, ``attmask`` (SimMIM's loss with AttMask's attention-guided masks),
``semanticmim`` and ``kamim+semanticmim`` (SemanticMIM's pixel target weighted by KAMIM's keypoint weights). Every
peer is pretrained with the same configuration file and overrides, once per seed (the same seed gives every peer
the same data order and, for the random-cell strategies, the same masks), then probed and/or fine-tuned. The
baseline that says what "good" is: the random-initialised encoder under the same protocols (probing an untrained
encoder; fine-tuning = training from scratch). PSS fine-tunes the chosen
sources with the drop schedule, and the dynamic-inference sweep measures accuracy and images/s of the fine-tuned
classifiers at each drop ratio.

Results are plain JSON (``run_peers``) that the notebook stores in its summary and the table helpers read back.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import replace
from typing import Callable, Mapping, Sequence

from kamim_lib._validation import check_choice
from kamim_paper.experiments.runs import Variant, run_variant
from kamim_lib.stats import paired_difference_ci

PEER_METHODS = ("simmim", "kamim", "attmask", "semanticmim", "kamim+semanticmim")
# The reference every paired difference is taken against.
REFERENCE = "simmim"
SCRATCH_LABEL = "random init"

# Published numbers beside ours (PEERS §2.6, §3.8: the peers' README tables; their settings, not ours).
PUBLISHED = {
    ("attmask", "linprobe"): {"value": 75.7, "source": "AttMask README: ViT-S/16, IN-1K 100 ep, High, linear top-1"},
    ("attmask", "knn"): {"value": 72.5, "source": "AttMask README: ViT-S/16, IN-1K 100 ep, High, k-NN top-1"},
    ("simmim", "finetune"): {"value": 83.7, "source": "PSS README: SimMIM ViT-B fine-tune top-1 (24.6 h)"},
    ("simmim+pss", "finetune"): {"value": 83.5, "source": "PSS README: SimMIM ViT-B + PSS fine-tune top-1 (17.0 h)"},
    ("simmim+pss", "time_saving"): {"value": 100 * (1 - 17.0 / 24.6),
                                    "source": "PSS README: 24.6 h -> 17.0 h on 4xA100 (abstract: -31 %)"},
}


def peer_variant(name: str, *, attmask_mode: str = "high") -> Variant:
    """The pretraining variant of a peer (see the module docstring)."""
    check_choice("methods", name, PEER_METHODS)
    overrides = {
        "simmim": ("method=simmim",),
        "kamim": ("method=kamim",),
        "attmask": ("method=simmim", "masking=attmask", f"attmask_mode={attmask_mode}"),
        "semanticmim": ("method=semanticmim",),
        "kamim+semanticmim": ("method=semanticmim", "semanticmim_weighting=keypoints"),
    }[name]
    return Variant(name, overrides, {"peer": name})


def with_seed(variant: Variant, seed: int) -> Variant:
    """``variant`` trained with ``seed`` (label unchanged; ``fields["seed"]`` records it)."""
    return replace(variant, overrides=(*variant.overrides, f"seed={seed}"), fields={**variant.fields, "seed": seed})


def pss_variant(source: Variant, *, schedule: str = "cyclic", scorer: str = "l1") -> Variant:
    """Fine-tuning ``source``'s backbone with PSS (the pretraining is ``source``'s: pss keys are fine-tune keys)."""
    label = f"{source.label}+pss"
    fields = {**source.fields, "peer": label, "pss": schedule, "pss_scorer": scorer}
    return Variant(label, (*source.overrides, f"pss={schedule}", f"pss_scorer={scorer}"), fields)


def peer_jobs(*, methods: Sequence[str], protocols: Sequence[str], seeds: Sequence[int], attmask_mode: str = "high",
              pss_sources: Sequence[str] = (), pss_schedule: str = "cyclic",
              pss_scorers: Sequence[str] = ("l1",)) -> list[tuple[str, Variant, str, str | None]]:
    """What :func:`run_peers` trains, in order: ``(kind, variant, protocol, pretrained)`` with kind "peers",
    "baselines" (random init: ``pretrained="scratch"``) or "pss"."""
    jobs = []
    for seed in seeds:
        for name in methods:
            for protocol in protocols:
                jobs.append(("peers", with_seed(peer_variant(name, attmask_mode=attmask_mode), seed), protocol, None))
        scratch = with_seed(Variant(SCRATCH_LABEL, (), {"peer": SCRATCH_LABEL}), seed)
        jobs += [("baselines", scratch, protocol, "scratch") for protocol in protocols]
        for source in pss_sources:
            for scorer in pss_scorers:
                variant = pss_variant(with_seed(peer_variant(source, attmask_mode=attmask_mode), seed),
                                      schedule=pss_schedule, scorer=scorer)
                jobs.append(("pss", variant, "finetune", None))
    return jobs


def run_peers(setup, jobs: Sequence[tuple[str, Variant, str, str | None]], *, fit: Callable[..., dict] | None = None,
              log: Callable[[str], None] | None = print) -> dict:
    """Pretrain (or reuse) and evaluate every job of :func:`peer_jobs`.

    Returns:
        ``{"peers": [...], "baselines": [...], "pss": [...]}``: results of
        :func:`~kamim_paper.experiments.runs.run_variant` (``fields`` hold ``peer`` and ``seed``); PSS results
        also carry ``timing`` (fine-tune wall time and images/s of the run's session).
    """
    results = {"peers": [], "baselines": [], "pss": []}
    for index, (kind, variant, protocol, pretrained) in enumerate(jobs, 1):
        if log is not None:
            log(f"[{index}/{len(jobs)}] {variant.label} seed {variant.fields['seed']}: {protocol}")
        result = run_variant(setup, variant, protocol, pretrained=pretrained, fit=fit)
        if kind == "pss":
            result["timing"] = run_timing(result["evaluation"]["run_dir"])
        results[kind].append(result)
    return results


def planned_run_ids(setup, jobs: Sequence[tuple[str, Variant, str, str | None]]) -> list[str]:
    """The evaluation run ids of ``jobs`` (each covers its pretrain run through ``pretrained``), sorted, without
    training: a summary whose runs differ was made from another configuration."""
    from kamim_lib.config import run_id

    return sorted(run_id(setup.classifier_config(protocol, variant.overrides, pretrained=pretrained))
                  for _, variant, protocol, pretrained in jobs)


def recorded_run_ids(results: Mapping[str, Sequence[dict]]) -> list[str]:
    """The evaluation run ids of :func:`run_peers` results, sorted (as :func:`planned_run_ids`)."""
    ordered = [result for kind in ("peers", "baselines", "pss") for result in results.get(kind, [])]
    return sorted(result["evaluation"]["run_id"] for result in ordered)


def run_timing(run_dir: str) -> dict:
    """Wall time and images/s of a finished run's training session (from its summary.json)."""
    import json
    from pathlib import Path

    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    return {"wall_time_s": summary.get("session_wall_time_s"), "images_per_s": summary.get("session_images_per_s")}


# --- statistics -------------------------------------------------------------------------------------------------

def per_seed(results: Sequence[dict], protocol: str, metric: str) -> dict[str, dict[int, float]]:
    """``{label: {seed: value}}`` of ``metric`` ("top1", "knn_top1", ...) for the results run with ``protocol``."""
    table: dict[str, dict[int, float]] = {}
    for result in results:
        value = (result.get("evaluation") or {}).get(metric)
        if result.get("protocol") == protocol and value is not None:
            table.setdefault(result["label"], {})[int(result["fields"]["seed"])] = float(value)
    return table


def comparison_rows(values: Mapping[str, Mapping[int, float]], *, reference: str = REFERENCE,
                    published: Mapping[str, float | None] | None = None, confidence: float = 0.95) -> list[dict]:
    """One row per label: seeds n, mean, and the paired difference to ``reference`` with its interval.

    Args:
        values: ``{label: {seed: value}}`` (:func:`per_seed`).
        reference: the label differences are taken against (its own row shows none).
        published: ``{label: number}`` printed in the "paper" column (None / absent: "n/a").

    Returns:
        Dicts ``{"variant", "n", "mean", "vs <reference>", "ours", "paper"}``; the difference is the text
        "+a.aa [b.bb, c.cc]" over the seeds both have, or "n/a" with fewer than 2 paired seeds.
    """
    from kamim_paper.results.tables.markdown import NOT_AVAILABLE

    published = dict(published or {})
    base = values.get(reference, {})
    rows = []
    for label, by_seed in values.items():
        seeds = sorted(by_seed)
        mean = sum(by_seed.values()) / len(by_seed)
        shared = [seed for seed in seeds if seed in base]
        difference = NOT_AVAILABLE
        if label != reference and len(shared) >= 2:
            center, low, high = paired_difference_ci([by_seed[s] for s in shared], [base[s] for s in shared],
                                                           confidence)
            difference = f"{center:+.2f} [{low:+.2f}, {high:+.2f}] (n={len(shared)})"
        elif label == reference:
            difference = "reference"
        rows.append({"variant": label, "n": str(len(seeds)), f"vs {reference}": difference, "ours": mean,
                     "paper": published.get(label)})
    return rows


def sweep_curves(sweeps: Sequence[dict]) -> dict[str, dict[str, list[float]]]:
    """Mean accuracy and throughput per drop ratio over seeds, per label: ``{label: {"keep_rate", "top1",
    "top1_low", "top1_high", "images_per_s", "images_per_s_median", "images_per_s_low", "images_per_s_high",
    "timings", "tokens"}}`` (low/high: min/max over seeds; ``timings``: how many seeds' timings each throughput is
    over; ``tokens``: the sequence length kept, CLS included, where the sweep recorded it)."""
    grouped: dict[str, dict[float, list[dict]]] = {}
    for sweep in sweeps:
        for row in sweep["rows"]:
            grouped.setdefault(sweep["label"], {}).setdefault(row["keep_rate"], []).append(row)
    curves = {}
    for label, by_rate in grouped.items():
        rates = sorted(by_rate, reverse=True)
        curves[label] = {
            "keep_rate": rates,
            "top1": [sum(r["top1"] for r in by_rate[rate]) / len(by_rate[rate]) for rate in rates],
            "top1_low": [min(r["top1"] for r in by_rate[rate]) for rate in rates],
            "top1_high": [max(r["top1"] for r in by_rate[rate]) for rate in rates],
            "images_per_s": [sum(r["images_per_s"] for r in by_rate[rate]) / len(by_rate[rate]) for rate in rates],
            "images_per_s_median": [statistics.median(r["images_per_s"] for r in by_rate[rate]) for rate in rates],
            "images_per_s_low": [min(r["images_per_s"] for r in by_rate[rate]) for rate in rates],
            "images_per_s_high": [max(r["images_per_s"] for r in by_rate[rate]) for rate in rates],
            "timings": [len(by_rate[rate]) for rate in rates],
        }
        if all("tokens" in r for rate in rates for r in by_rate[rate]):
            curves[label]["tokens"] = [by_rate[rate][0]["tokens"] for rate in rates]
    return curves


def pss_time_rows(plain: Sequence[dict], pss: Sequence[dict]) -> list[dict]:
    """Fine-tune wall time saved by PSS beside PSS's published −31 %, per source (mean over paired seeds).

    Args:
        plain: the plain fine-tune results (``peers`` results with protocol "finetune") of the PSS sources.
        pss: the PSS results (with ``timing``).
    """
    rows = []
    plain_time = {(r["label"], r["fields"]["seed"]): run_timing(r["evaluation"]["run_dir"])["wall_time_s"]
                  for r in plain if r["protocol"] == "finetune"}
    by_label: dict[str, list[float]] = {}
    for result in pss:
        source = result["label"].removesuffix("+pss")
        before = plain_time.get((source, result["fields"]["seed"]))
        after = result["timing"]["wall_time_s"]
        if before and after:
            by_label.setdefault(result["label"], []).append(100 * (1 - after / before))
    for label, savings in by_label.items():
        reference = PUBLISHED[("simmim+pss", "time_saving")]["value"] if label.startswith("simmim") else None
        rows.append({"variant": label, "n": str(len(savings)), "metric": "fine-tune time saved %",
                     "ours": sum(savings) / len(savings), "paper": reference})
    return rows


def published_for(protocol: str, labels: Sequence[str]) -> dict[str, float | None]:
    """The published numbers of ``labels`` under ``protocol`` (None where the peers publish none)."""
    return {label: (PUBLISHED.get((label, protocol)) or {}).get("value") for label in labels}


# --- conclusions, generated from the numbers ---------------------------------------------------------------------

def difference_sentence(label: str, values: Mapping[str, Mapping[int, float]], what: str, *,
                        reference: str = REFERENCE, confidence: float = 0.95) -> str:
    """One sentence on ``label`` − ``reference`` for ``what`` (e.g. "linprobe top-1"), from the paired seeds."""
    base, own = values.get(reference, {}), values.get(label, {})
    shared = sorted(set(base) & set(own))
    if not shared:
        return f"{label}: no seed shared with {reference}, no comparison of {what}."
    if len(shared) == 1:
        seed = shared[0]
        return (f"{label} − {reference} ({what}) = {own[seed] - base[seed]:+.2f} points on the single seed {seed}: "
                f"no interval and no conclusion (give at least 2 seeds).")
    mean, low, high = paired_difference_ci([own[s] for s in shared], [base[s] for s in shared], confidence)
    if low == high:
        verdict = "the same difference on every seed (no spread to estimate: no interval, no conclusion)"
    elif low > 0:
        verdict = f"better than {reference}"
    elif high < 0:
        verdict = f"worse than {reference}"
    else:
        verdict = f"not distinguishable from {reference} (the interval contains 0)"
    return (f"{label} − {reference} ({what}) = {mean:+.2f} points, {int(confidence * 100)} % interval "
            f"[{low:+.2f}, {high:+.2f}] over {len(shared)} paired seeds: {verdict}.")


def pss_sentences(curves: Mapping[str, Mapping[str, list[float]]], time_rows: Sequence[dict]) -> list[str]:
    """Sentences on PSS: time saved (beside the published −31 %) and accuracy at the lowest keep rate swept."""
    sentences = []
    for row in time_rows:
        published = f" (PSS's README: {row['paper']:.0f} % on ViT-B/ImageNet)" if row["paper"] is not None else ""
        change = "less" if row["ours"] >= 0 else "more"
        sentences.append(f"{row['variant']}: fine-tuning (training session, evaluations included) took "
                         f"{abs(row['ours']):.0f} % {change} wall time than without PSS{published}, over {row['n']} "
                         "seed(s); a busy machine makes this noisy (benchmarks/pss_step.py times the step alone).")
    for label, curve in curves.items():
        if not label.endswith("+pss") or label.removesuffix("+pss") not in curves:
            continue
        plain = curves[label.removesuffix("+pss")]
        rate = curve["keep_rate"][-1]
        if rate in plain["keep_rate"]:
            before = plain["top1"][plain["keep_rate"].index(rate)]
            after = curve["top1"][-1]
            sentences.append(f"At keep rate {rate:.1f} (drop {1 - rate:.1f}), {label} reaches {after:.1f} % top-1 "
                             f"against {before:.1f} % for the same backbone fine-tuned without PSS "
                             f"({after - before:+.1f} points; full tokens: {curve['top1'][0]:.1f} vs "
                             f"{plain['top1'][0]:.1f} %).")
    return sentences
