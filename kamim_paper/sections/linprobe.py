"""Section 3 (notebook ``03_linear_probe``): linear probing of SimMIM's and KAMIM's frozen encoders on paired seeds.

Every method's pretrained backbone (notebook 2's runs, pretrained here when missing, or a checkpoint given in
``checkpoints``) is probed with the engine once per seed. The headline number is a converged classifier (logistic
regression) on cached frozen features, beside the same classifier on the raw pixels and on a random-init encoder,
with the paired difference KAMIM − SimMIM and its 95 % interval; the engine's SGD head (and kNN) follow beside the
paper's numbers.

The notebook calls, in order: :func:`parameters`, :func:`plan`, :func:`compute`, :func:`evidence_table`,
:func:`evidence_figure`, :func:`conclusions`, :func:`engine_table`, :func:`engine_figure`.
"""
from __future__ import annotations

import dataclasses

from matplotlib.figure import Figure

from kamim_paper.evidence.records import method_intervals
from kamim_paper.evidence.views import PROBE_BASELINES, linprobe_evidence
from kamim_paper.experiments import runs as experiments
from kamim_paper.experiments.training import training_setup
from kamim_paper.results import comparison_table, provenance, summaries
from kamim_paper.results.artifacts import relative_to_repo, section_output_dir
from kamim_paper.results.figures import experiments as experiment_plots
from kamim_paper.results.sentences import difference_verdict
from kamim_paper.results.tables import experiments as experiment_tables
from kamim_paper.results.tables.markdown import provenance_line
from kamim_paper.sections.outputs import (NO_EVIDENCE, Markdown, SectionResult, bullet_lines, has_paired_evidence,
                                          parameters_of)
from kamim_paper.sections.params import LinearProbeParams as Params

NAME = "linprobe"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def _setup(params: Params):
    out_dir = section_output_dir(params.output_dir, params.profile)
    setup = training_setup(params.train_config, params.overrides, out_dir, params.device)
    methods = experiments.method_variants(params.methods)
    variants = experiments.seeded_variants(methods, params.seeds)
    probe = setup.classifier_config(NAME, variants[0].overrides, pretrained=params.checkpoints.get(variants[0].label))
    return out_dir, setup, variants, probe



def plan(params: Params) -> dict:
    """What will be probed: configuration file, model, data, epochs, probed block, pooling, head, seeds, runs."""
    _, setup, variants, probe = _setup(params)
    return {"train_config": str(relative_to_repo(str(setup.train_config))), "model": probe.model,
            "dataset": probe.dataset, "epochs": probe.epochs, "probe_layer": probe.probe_layer,
            "pooling": probe.pooling, "probe_batchnorm": probe.probe_batchnorm, "knn_k": probe.knn_k,
            "seeds": params.seeds, "runs": len(variants), "paired_evidence": has_paired_evidence(params)}


def compute(params: Params) -> SectionResult:
    """Pretrain (or reuse) and probe every method x seed, measure the converged probe and write the summary.

    Skipped while ``<output_dir>/linprobe/summary.json`` is current (same result-relevant parameters, same runs),
    unless ``params.force``.
    """
    out_dir, setup, variants, probe = _setup(params)
    summary_path = summaries.section_dir(out_dir, NAME) / summaries.SUMMARY_NAME
    if experiments.summary_is_stale(summary_path, params, params.force, experiments.planned_runs(
            setup, variants, NAME, pretrained=params.checkpoints)):
        results = experiments.run_variants(setup, variants, NAME, pretrained=params.checkpoints)
        evidence = linprobe_evidence(results, params.seeds, probe) if has_paired_evidence(params) else None
        summaries.write_summary(summary_path, relative_to_repo({
            "section": NAME, "parameters": dataclasses.asdict(params), "provenance": provenance(params.profile),
            "train_config": str(setup.train_config), "results": results, "evidence": evidence}))
    return SectionResult(NAME, params, out_dir, summaries.read_summary(summary_path))


def _probe(result: SectionResult):
    return _setup(result.params)[3]


def evidence_table(result: SectionResult) -> Markdown:
    """Converged-probe top-1 per method and seed beside the baselines, with the paired difference."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    probe = _probe(result)
    table = experiment_tables.evidence_table(
        evidence, title=f"Linear probe, block {probe.probe_layer}: {evidence['classifier']} "
                        f"({probe.model}, {probe.dataset}, {evidence['split_sizes']['train']} train / "
                        f"{evidence['split_sizes']['val']} val images)",
        baseline_names=PROBE_BASELINES, lower_is_better=False, digits=2)
    return result.write_table("linprobe_evidence", table + provenance_line(result["provenance"]))


def evidence_figure(result: SectionResult) -> Figure | Markdown:
    """Converged-probe top-1 per method (mean and 95 % CI over seeds) beside the baselines."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    probe = _probe(result)
    figure = experiment_plots.plot_evidence(evidence, ylabel="top-1 % (logistic regression, frozen features)",
                                            title=f"{probe.model} on {probe.dataset}: linear probe, block "
                                                  f"{probe.probe_layer}", baseline_names=PROBE_BASELINES)
    return result.save_figure(figure, "linprobe_evidence")


def baseline_sentence(method: str, mean: float, raw: float, random_init: float) -> str:
    """One method's mean top-1 placed against the raw-pixel and random-init baselines (strictly above or not)."""
    return (f"{method}: {mean:.1f} % top-1; " + ("above" if mean > raw else "below")
            + f" the raw-pixel baseline ({raw:.1f} %), " + ("above" if mean > random_init else "below")
            + f" the random-init encoder ({random_init:.1f} %).")


def conclusion_lines(evidence: dict) -> list[str]:
    """The generated conclusions: one sentence per method against the baselines, then the paired one."""
    means = {method: interval[0] for method, interval in method_intervals(evidence).items()}
    raw, random_init = evidence["baselines"]["raw_pixels"], evidence["baselines"]["random_init"]
    lines = [baseline_sentence(method, mean, raw, random_init) for method, mean in means.items()]
    return lines + [difference_verdict(evidence, lower_is_better=False)]


def conclusions(result: SectionResult) -> Markdown:
    """What the converged probe says, generated from the numbers."""
    evidence = result["evidence"]
    return NO_EVIDENCE if evidence is None else bullet_lines(conclusion_lines(evidence))


def engine_table(result: SectionResult) -> Markdown:
    """The engine's SGD head (and kNN), every seed, beside the paper's numbers."""
    results = result["results"]
    evaluation = results[0]["evaluation"]
    table = comparison_table(
        f"Linear probe (SGD head): block {evaluation['probe_layer']}, {evaluation['epochs']} epochs "
        f"({evaluation['model']}, {evaluation['dataset']})",
        experiment_tables.evaluation_rows(results, with_paper=True),
        label_keys=("model", "dataset", "method", "seed", "metric"), provenance=result["provenance"])
    return result.write_table("linprobe", table)


def engine_bars(results: list[dict], seeds: list[int]) -> dict[str, dict[str, float]]:
    """label -> mean SGD-head top-1 over seeds, and mean kNN top-1 when every run has one (``knn_k = 0`` skips
    kNN)."""
    sgd = experiments.per_seed(results, lambda entry: entry["evaluation"]["top1"], seeds)
    bars = {label: {"SGD head top-1 (mean)": sum(values) / len(values)} for label, values in sgd.items()}
    if all(entry["evaluation"].get("knn_top1") is not None for entry in results):
        knn = experiments.per_seed(results, lambda entry: entry["evaluation"]["knn_top1"], seeds)
        for label, values in knn.items():
            bars[label]["kNN top-1 (mean)"] = sum(values) / len(values)
    return bars


def engine_figure(result: SectionResult) -> Figure:
    """The engine's SGD-head (and kNN) top-1 per method, mean over seeds."""
    results = result["results"]
    evaluation = results[0]["evaluation"]
    figure = experiment_plots.plot_metric_bars(
        engine_bars(results, result.params.seeds), ylabel="top-1 %",
        title=f"Frozen features of {evaluation['model']} ({evaluation['dataset']}), "
              f"mean over {len(result.params.seeds)} seeds")
    return result.save_figure(figure, "linprobe_top1")


__all__ = ["Params", "parameters", "plan", "compute", "evidence_table", "evidence_figure", "conclusions",
           "engine_table", "engine_figure", "baseline_sentence", "conclusion_lines", "engine_bars"]
