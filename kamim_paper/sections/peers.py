"""Section 12 (notebook ``12_peers``): KAMIM beside its peers — SimMIM, AttMask, SemanticMIM, KAMIM+SemanticMIM —
and PSS fine-tuning with its dynamic-inference sweep (PEERS §6.2).

The jobs (every peer per seed and protocol, the random-init baseline, the PSS fine-tunes) and the sweep are run by
:mod:`kamim_paper.experiments.peers`; this module turns them into the section's summary, its tables (each peer's
mean and paired difference to SimMIM with its 95 % interval beside the peers' published numbers), its figures and
its generated conclusions.

The notebook calls, in order: :func:`parameters`, :func:`plan`, :func:`compute`, :func:`protocols_table`,
:func:`linprobe_figure`, :func:`finetune_figure`, :func:`knn_figure`, :func:`pss_table`,
:func:`dynamic_inference_figure`, :func:`conclusions`.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from matplotlib.figure import Figure

from kamim_lib.models import model_arch
from kamim_lib.provenance import provenance
from kamim_lib.stats import paired_difference_ci
from kamim_paper.experiments import peers as peer_runs
from kamim_paper.experiments.peers import REFERENCE, run_timing
from kamim_paper.experiments.training import training_setup
from kamim_paper.results import summaries
from kamim_paper.results.artifacts import relative_to_repo, section_output_dir
from kamim_paper.results.figures import peers as peers_plots
from kamim_paper.results.published import PEERS_PUBLISHED, published_for
from kamim_paper.results.sentences import a_is_better, difference, interval
from kamim_paper.results.tables.markdown import NOT_AVAILABLE, comparison_table
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import PeersParams as Params

NAME = "peers"
# The figure of each measured metric, by its display name (see :func:`metrics`).
LINPROBE, KNN, FINETUNE = "linprobe top-1 %", "kNN top-1 %", "finetune top-1 %"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def _setup(params: Params):
    out_dir = section_output_dir(params.output_dir, params.profile)
    setup = training_setup(params.train_config, params.overrides, out_dir, params.device)
    patch_size = model_arch(setup.pretrain_config().model).patch_size  # per-token masks (peer_settings=papers)
    jobs = peer_runs.peer_jobs(methods=params.methods, protocols=params.protocols, seeds=params.seeds,
                               attmask_mode=params.attmask_mode, pss_sources=params.pss_sources,
                               pss_schedule=params.pss_schedule, pss_scorers=params.pss_scorers,
                               settings=params.peer_settings, patch_size=patch_size)
    return out_dir, setup, jobs


def plan(params: Params) -> dict:
    """What will be evaluated: one run per peer x protocol x seed, the random-init baseline, the PSS fine-tunes
    (each after its pretraining; finished runs are reused)."""
    _, setup, jobs = _setup(params)
    return {"train_config": str(relative_to_repo(str(setup.train_config))), "evaluation_runs": len(jobs),
            "jobs": [f"{kind}: {variant.label} seed {variant.fields['seed']}, {protocol}"
                     for kind, variant, protocol, _ in jobs]}


def compute(params: Params) -> SectionResult:
    """Pretrain and evaluate every peer per seed, fine-tune with PSS, sweep the drop ratio; write the summary.

    Skipped while ``<output_dir>/peers/summary.json`` is current (same result-relevant parameters, same evaluation
    runs), unless ``params.force``; finished runs are reused by run id.
    """
    out_dir, setup, jobs = _setup(params)
    summary_path = summaries.section_dir(out_dir, NAME) / summaries.SUMMARY_NAME
    stale = summaries.should_compute(summary_path, params, params.force) or \
        peer_runs.recorded_run_ids(summaries.read_summary(summary_path)["results"]) != \
        peer_runs.planned_run_ids(setup, jobs)
    if stale:
        results = peer_runs.run_peers(setup, jobs)
        sweeps = peer_runs.run_sweeps(results, params.pss_sources, drop_ratios=params.sweep_drop_ratios,
                                      device=params.device)
        summaries.write_summary(summary_path, {
            "section": NAME, "parameters": dataclasses.asdict(params), "provenance": provenance(params.profile),
            "train_config": str(setup.train_config), "results": results, "sweeps": sweeps})
    return SectionResult(NAME, params, out_dir, summaries.read_summary(summary_path))


# --- the section's tables, figures and conclusions -----------------------------------------------------------------

def metrics(protocols: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(protocol, metric, display name)`` of every number compared: top-1 per protocol, and the kNN top-1 of the
    linear-probe runs when "linprobe" is among ``protocols``."""
    measured = [(protocol, "top1", f"{protocol} top-1 %") for protocol in protocols]
    if "linprobe" in protocols:
        measured.append(("linprobe", "knn_top1", "kNN top-1 %"))
    return measured


def _evaluated(result: SectionResult) -> list[dict]:
    return result["results"]["peers"] + result["results"]["baselines"]


def _where(result: SectionResult) -> str:
    evaluated = _evaluated(result)
    return f"{evaluated[0]['evaluation']['model']}, {evaluated[0]['evaluation']['dataset']}"


def values_by_metric(result: SectionResult) -> dict[str, dict[str, dict[int, float]]]:
    """``{display name: {label: {seed: value}}}`` for every metric of :func:`metrics` (peers and baseline)."""
    evaluated = _evaluated(result)
    return {name: per_seed(evaluated, protocol, metric) for protocol, metric, name in metrics(result.params.protocols)}


def protocols_table(result: SectionResult) -> Markdown:
    """Per metric: each peer's mean over seeds, its paired difference to SimMIM with the 95 % interval, and the
    peer's published number (their setting, not ours; n/a where none is published); then the sources."""
    tables = []
    evaluated = _evaluated(result)
    for protocol, metric, name in metrics(result.params.protocols):
        values = per_seed(evaluated, protocol, metric)
        published = published_for("knn" if metric == "knn_top1" else protocol, list(values))
        rows = comparison_rows(values, published=published)
        tables.append(comparison_table(f"Peers: {name} ({_where(result)}); paper = the peer's published number, "
                                       "its setting", rows, label_keys=("variant", "n", f"vs {REFERENCE}"),
                                       provenance=result["provenance"]))
    sources = "; ".join(f"{key[0]} {key[1]}: {entry['source']}" for key, entry in PEERS_PUBLISHED.items())
    return result.write_table("peers", "\n".join(tables) + f"\nPublished numbers: {sources}.\n")


def _figure_stem(name: str) -> str:
    return f"peers_{name.split()[0]}_{name.split()[1].replace('-', '')}"


def _seed_bars_figure(result: SectionResult, name: str) -> Figure | Markdown:
    values = values_by_metric(result).get(name)
    if values is None:
        return Markdown(f"Not measured: {name} needs another protocol (protocols = {result.params.protocols}).")
    figure = peers_plots.plot_seed_bars(values, ylabel=name, title=f"Peers: {name} ({_where(result)})")
    return result.save_figure(figure, _figure_stem(name))


def linprobe_figure(result: SectionResult) -> Figure | Markdown:
    """Linear-probe top-1 per peer, one bar per seed beside the mean."""
    return _seed_bars_figure(result, LINPROBE)


def finetune_figure(result: SectionResult) -> Figure | Markdown:
    """Fine-tune top-1 per peer, one bar per seed beside the mean."""
    return _seed_bars_figure(result, FINETUNE)


def knn_figure(result: SectionResult) -> Figure | Markdown:
    """kNN top-1 (on the linear-probe features) per peer, one bar per seed beside the mean."""
    return _seed_bars_figure(result, KNN)


def _pss_values(result: SectionResult) -> dict[str, dict[int, float]]:
    results = result["results"]
    return per_seed([r for r in results["peers"] if r["label"] in result.params.pss_sources] + results["pss"],
                    "finetune", "top1")


def _time_rows(result: SectionResult) -> list[dict]:
    return pss_time_rows(result["results"]["peers"], result["results"]["pss"])


def _curves(result: SectionResult) -> dict[str, dict[str, list[float]]]:
    return sweep_curves(result["sweeps"])


# The column of a throughput timed once (not a measurement to compare across rows).
SINGLE_TIMING = "images/s (one timing)"


def sweep_rows(curves: Mapping[str, Mapping[str, list[float]]]) -> list[dict]:
    """One table row per label and keep rate of :func:`sweep_curves` (the curve is not published: paper None). The
    images/s come from one timing of one run (a median of 3 passes): the column says so, and the figure does not
    plot them (speed is measured by benchmarks/pss_step.py)."""
    return [{"variant": label, "keep rate": f"{rate:.1f}", SINGLE_TIMING: f"{speed:.0f}", "ours": top1,
             "paper": None}
            for label, curve in curves.items()
            for rate, top1, speed in zip(curve["keep_rate"], curve["top1"], curve["images_per_s"])]


def pss_table(result: SectionResult) -> Markdown:
    """PSS: fine-tune top-1 of the sources with and without PSS, the fine-tuning wall time saved, and top-1 by keep
    rate of the dynamic-inference sweep."""
    params, where = result.params, _where(result)
    pss_values = _pss_values(result)
    pss_rows = comparison_rows(pss_values, published=published_for("finetune", list(pss_values)))
    text = comparison_table(f"PSS ({params.pss_schedule}, scorers {', '.join(params.pss_scorers)}): fine-tune top-1 % "
                            f"({where})", pss_rows, label_keys=("variant", "n", f"vs {REFERENCE}"),
                            provenance=result["provenance"])
    text += "\n" + comparison_table("PSS: fine-tuning wall time saved", _time_rows(result),
                                    label_keys=("variant", "n", "metric"), digits=1)
    text += "\n" + comparison_table("Dynamic inference: top-1 % by keep rate (paper: the curve is not published "
                                    "numerically, n/a)", sweep_rows(_curves(result)),
                                    label_keys=("variant", "keep rate", SINGLE_TIMING))
    return result.write_table("peers_pss", text)


def dynamic_inference_figure(result: SectionResult) -> Figure:
    """Top-1 by keep rate of the fine-tuned PSS sources (solid: trained with PSS), and what the keep rate costs:
    throughput only where it was timed repeatedly, otherwise the tokens per image (exact)."""
    figure = peers_plots.plot_dynamic_inference(_curves(result), title=f"Dynamic inference ({_where(result)}); "
                                                                       "solid: trained with PSS",
                                                sweeps=result["sweeps"])
    return result.save_figure(figure, "peers_dynamic_inference")


def conclusion_lines(values_by_name: Mapping[str, Mapping[str, Mapping[int, float]]],
                     curves: Mapping[str, Mapping[str, list[float]]], time_rows: Sequence[dict]) -> list[str]:
    """The generated conclusions: every peer against SimMIM per metric (:func:`difference_sentence`), then PSS's
    time saved and accuracy at the lowest keep rate (:func:`pss_sentences`)."""
    lines = [difference_sentence(label, values, name)
             for name, values in values_by_name.items() for label in values if label != REFERENCE]
    return lines + pss_sentences(curves, time_rows)


def conclusions(result: SectionResult) -> Markdown:
    """What the numbers say, generated from them."""
    return bullet_lines(conclusion_lines(values_by_metric(result), _curves(result), _time_rows(result)))


# --- statistics (from the summary's results) ------------------------------------------------------------

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
    published = dict(published or {})
    base = values.get(reference, {})
    rows = []
    for label, by_seed in values.items():
        seeds = sorted(by_seed)
        mean = sum(by_seed.values()) / len(by_seed)
        shared = [seed for seed in seeds if seed in base]
        versus = NOT_AVAILABLE
        if label != reference and len(shared) >= 2:
            center, low, high = paired_difference_ci([by_seed[s] for s in shared], [base[s] for s in shared],
                                                           confidence)
            versus = f"{difference(center, (low, high), '+.2f')} (n={len(shared)})"
        elif label == reference:
            versus = "reference"
        rows.append({"variant": label, "n": str(len(seeds)), f"vs {reference}": versus, "ours": mean,
                     "paper": published.get(label)})
    return rows


def sweep_curves(sweeps: Sequence[dict]) -> dict[str, dict[str, list[float]]]:
    """Mean accuracy and throughput per drop ratio over seeds, per label: ``{label: {"keep_rate", "top1",
    "top1_low", "top1_high", "images_per_s"}}`` (low/high: min/max over seeds)."""
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
        }
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
        reference = PEERS_PUBLISHED[("simmim+pss", "time_saving")]["value"] if label.startswith("simmim") else None
        rows.append({"variant": label, "n": str(len(savings)), "metric": "fine-tune time saved %",
                     "ours": sum(savings) / len(savings), "paper": reference})
    return rows


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
    better = a_is_better(mean, (low, high), lower_is_better=False)
    if low == high:
        verdict = "the same difference on every seed (no spread to estimate: no interval, no conclusion)"
    elif better is None:
        verdict = f"not distinguishable from {reference} (the interval contains 0)"
    else:
        verdict = f"{'better' if better else 'worse'} than {reference}"
    return (f"{label} − {reference} ({what}) = {mean:+.2f} points, {int(confidence * 100)} % interval "
            f"{interval((low, high), '+.2f')} over {len(shared)} paired seeds: {verdict}.")


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


__all__ = ["Params", "parameters", "plan", "compute", "metrics", "values_by_metric", "protocols_table",
           "linprobe_figure", "finetune_figure", "knn_figure", "pss_table", "dynamic_inference_figure",
           "conclusion_lines", "conclusions", "per_seed", "comparison_rows", "sweep_curves", "sweep_rows",
           "pss_time_rows", "published_for", "difference_sentence", "pss_sentences"]
