"""Section 4 (notebook ``04_finetune``): fine-tuning SimMIM's and KAMIM's encoders beside training from scratch.

Every method's pretrained backbone (notebook 2's runs, pretrained here when missing, or a checkpoint given in
``checkpoints``) is fine-tuned with the engine once per seed, and the same network is trained from scratch with the
same budget and seeds: pretraining is only worth something if it beats that. The comparison is the paired
difference KAMIM − SimMIM with its 95 % interval; every run is listed beside the paper's numbers.

The notebook calls, in order: :func:`parameters`, :func:`plan`, :func:`compute`, :func:`evidence_table`,
:func:`evidence_figure`, :func:`conclusions`, :func:`runs_table`, :func:`accuracy_figure`.
"""
from __future__ import annotations

import dataclasses

from matplotlib.figure import Figure

from kamim_lib.config import SCRATCH
from kamim_paper.evidence.records import method_intervals
from kamim_paper.evidence.views import FINETUNE_BASELINES, finetune_evidence
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
from kamim_paper.sections.params import FinetuneParams as Params

NAME = "finetune"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def _setup(params: Params):
    out_dir = section_output_dir(params.output_dir, params.profile)
    setup = training_setup(params.train_config, params.overrides, out_dir, params.device)
    methods = experiments.method_variants(params.methods)
    variants = experiments.seeded_variants(methods, params.seeds)
    # The from-scratch baseline: the same fine-tuning from random initialisation, same seeds.
    scratch_variants = experiments.seeded_variants([experiments.Variant("scratch", (), {"method": "scratch"})],
                                                   params.seeds)
    finetune = setup.classifier_config(NAME, variants[0].overrides,
                                       pretrained=params.checkpoints.get(variants[0].label))
    return out_dir, setup, variants, scratch_variants, finetune



def plan(params: Params) -> dict:
    """What will be fine-tuned: configuration file, model, data, epochs, learning rate, augmentation, seeds, runs
    (the from-scratch runs included)."""
    _, setup, variants, scratch_variants, finetune = _setup(params)
    return {"train_config": str(relative_to_repo(str(setup.train_config))), "model": finetune.model,
            "dataset": finetune.dataset, "epochs": finetune.epochs, "lr": finetune.lr, "augment": finetune.augment,
            "mixup_alpha": finetune.mixup_alpha, "cutmix_alpha": finetune.cutmix_alpha,
            "drop_path_rate": finetune.drop_path_rate, "seeds": params.seeds,
            "runs": len(variants) + len(scratch_variants), "paired_evidence": has_paired_evidence(params)}


def compute(params: Params) -> SectionResult:
    """Pretrain (or reuse) and fine-tune every method x seed, train from scratch on every seed, and write the summary.

    Skipped while ``<output_dir>/finetune/summary.json`` is current (same result-relevant parameters, same runs),
    unless ``params.force``.
    """
    out_dir, setup, variants, scratch_variants, _ = _setup(params)
    summary_path = summaries.section_dir(out_dir, NAME) / summaries.SUMMARY_NAME
    scratch_checkpoints = {"scratch": SCRATCH}
    planned = (experiments.planned_runs(setup, variants, NAME, pretrained=params.checkpoints)
               + experiments.planned_runs(setup, scratch_variants, NAME, pretrained=scratch_checkpoints))
    if experiments.summary_is_stale(summary_path, params, params.force, planned):
        results = experiments.run_variants(setup, variants, NAME, pretrained=params.checkpoints)
        scratch = experiments.run_variants(setup, scratch_variants, NAME, pretrained=scratch_checkpoints)
        evidence = finetune_evidence(results, scratch, params.seeds) if has_paired_evidence(params) else None
        summaries.write_summary(summary_path, relative_to_repo({
            "section": NAME, "parameters": dataclasses.asdict(params), "provenance": provenance(params.profile),
            "train_config": str(setup.train_config), "results": results + scratch, "evidence": evidence}))
    return SectionResult(NAME, params, out_dir, summaries.read_summary(summary_path))


def _finetune_config(result: SectionResult):
    return _setup(result.params)[4]


def evidence_table(result: SectionResult) -> Markdown:
    """Fine-tuning top-1 per method and seed beside training from scratch, with the paired difference."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    finetune = _finetune_config(result)
    table = experiment_tables.evidence_table(
        evidence, title=f"Fine-tuning top-1, {finetune.epochs} epochs ({finetune.model}, {finetune.dataset})",
        baseline_names=FINETUNE_BASELINES, lower_is_better=False, digits=2)
    return result.write_table("finetune_evidence", table + provenance_line(result["provenance"]))


def evidence_figure(result: SectionResult) -> Figure | Markdown:
    """Fine-tuning top-1 per method (mean and 95 % CI over seeds) beside training from scratch."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    finetune = _finetune_config(result)
    figure = experiment_plots.plot_evidence(evidence, ylabel="top-1 %", baseline_names=FINETUNE_BASELINES,
                                            title=f"{finetune.model} on {finetune.dataset}: fine-tuning")
    return result.save_figure(figure, "finetune_evidence")


def pretraining_verdict(low: float, high: float, scratch_mean: float) -> str:
    """What a method's 95 % interval [low, high] over seeds says against the from-scratch mean: it helps when the
    whole interval lies above it, hurts when the whole interval lies below it."""
    return "helps" if low > scratch_mean else "hurts" if high < scratch_mean else "makes no clear difference"


def conclusion_lines(evidence: dict) -> list[str]:
    """The generated conclusions: one sentence per method against training from scratch, then the paired one."""
    scratch_mean = evidence["baselines"]["scratch"]
    lines = [f"{method}: {mean:.1f} % top-1 vs {scratch_mean:.1f} % from scratch: pretraining "
             f"{pretraining_verdict(low, high, scratch_mean)} at this budget."
             for method, (mean, low, high) in method_intervals(evidence).items()]
    return lines + [difference_verdict(evidence, lower_is_better=False)]


def conclusions(result: SectionResult) -> Markdown:
    """What fine-tuning says against training from scratch, generated from the numbers."""
    evidence = result["evidence"]
    return NO_EVIDENCE if evidence is None else bullet_lines(conclusion_lines(evidence))


def runs_table(result: SectionResult) -> Markdown:
    """Every fine-tuning run (from scratch included), every seed, beside the paper's numbers."""
    results = result["results"]
    evaluation = results[0]["evaluation"]
    table = comparison_table(
        f"Fine-tuning: {evaluation['epochs']} epochs ({evaluation['model']}, {evaluation['dataset']})",
        experiment_tables.evaluation_rows(results, with_paper=True),
        label_keys=("model", "dataset", "method", "seed", "metric"), provenance=result["provenance"])
    return result.write_table("finetune", table)


def accuracy_bars(results: list[dict], seeds: list[int]) -> dict[str, dict[str, float]]:
    """label -> mean top-1 and mean top-5 over seeds."""
    top1 = experiments.per_seed(results, lambda entry: entry["evaluation"]["top1"], seeds)
    top5 = experiments.per_seed(results, lambda entry: entry["evaluation"]["top5"], seeds)
    return {label: {"top-1 (mean)": sum(top1[label]) / len(top1[label]),
                    "top-5 (mean)": sum(top5[label]) / len(top5[label])} for label in top1}


def accuracy_figure(result: SectionResult) -> Figure:
    """Top-1 and top-5 per label (methods and scratch), mean over seeds."""
    results = result["results"]
    evaluation = results[0]["evaluation"]
    figure = experiment_plots.plot_metric_bars(
        accuracy_bars(results, result.params.seeds), ylabel="accuracy %",
        title=f"Fine-tuned {evaluation['model']} ({evaluation['dataset']}), mean over {len(result.params.seeds)} seeds")
    return result.save_figure(figure, "finetune_accuracy")


__all__ = ["Params", "parameters", "plan", "compute", "evidence_table", "evidence_figure", "conclusions",
           "runs_table", "accuracy_figure", "pretraining_verdict", "conclusion_lines", "accuracy_bars"]
