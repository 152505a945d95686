"""The experiments of the training notebooks: the variants trained, "pretrain then evaluate" for each, and the rows
of their tables.

A :class:`Variant` is one pretraining setting (``method=kamim detector=sift``). :func:`run_variants` pretrains each
(or reuses its finished run), then linearly probes or fine-tunes it when a protocol is given, and returns one
plain-JSON *result* per variant::

    {"label": "kamim sift", "fields": {"method": "kamim", "detector": "sift"}, "overrides": [...],
     "pretrain": {"run_id", "run_dir", "checkpoint", "method", "model", "dataset", "epochs", "loss_normalize",
                  "train_loss_first_epoch", "train_loss_last_epoch"} or None (started from a given checkpoint),
     "protocol": "linprobe" | "finetune" | None,
     "evaluation": {"run_id", "run_dir", "pretrained", "model", "dataset", "epochs", "top1", "top5",
                    "knn_top1", "knn_top5", "knn_k", "probe_layer"} or None}

Results go into the section's summary.json as they are; the table helpers (``experiment_tables``) and plots
(``experiment_plots``) read them back from there, so a notebook re-run that skips training still draws every table
and figure.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from kamim_lib._validation import check_choice
from kamim_lib.config import run_id
from kamim_lib.engine import fit as engine_fit
from kamim_lib.engine.run_dir import METRICS_FILE
from kamim_paper.experiments.training import PROTOCOLS, TrainingSetup
from kamim_paper.results.summaries import should_compute


@dataclass(frozen=True)
class Variant:
    """One pretraining setting.

    Attributes:
        label: its name in tables and plots, e.g. "simmim", "kamim sift", "w_ps=8, T=0.25".
        overrides: pretrain overrides that define it, e.g. ``("method=kamim", "detector=sift")``.
        fields: the table columns that identify it, e.g. ``{"method": "kamim", "detector": "sift"}``.
    """

    label: str
    overrides: tuple[str, ...]
    fields: Mapping = field(default_factory=dict)


def method_variants(methods: Sequence[str]) -> list[Variant]:
    """SimMIM and/or KAMIM with every other setting from the configuration file (``methods`` as the section's
    ``Params`` checked them)."""
    return [Variant(method, (f"method={method}",), {"method": method}) for method in methods]


def detector_variants(detectors: Sequence[str], *, include_simmim: bool = True) -> list[Variant]:
    """The detector ablation: KAMIM with each detector, after the SimMIM baseline (detector "none")
    (``detectors`` as :class:`~kamim_paper.sections.params.DetectorAblationParams` checked them)."""
    variants = [Variant("simmim", ("method=simmim",), {"method": "simmim", "detector": "none"})] \
        if include_simmim else []
    variants += [Variant(f"kamim {detector}", ("method=kamim", f"detector={detector}"),
                         {"method": "kamim", "detector": detector}) for detector in detectors]
    return variants


def sweep_variants(weight_patch_sizes: Sequence[int], temperatures: Sequence[float], *,
                   include_simmim: bool = False) -> list[Variant]:
    """The KAMIM grid w_ps x T, row-major (every temperature of the first w_ps first), optionally after the SimMIM
    reference (its w_ps and T are None: not applicable). The values are as
    :class:`~kamim_paper.sections.params.SweepParams` checked them (distinct, w_ps an int >= 1, T > 0); the engine's
    configuration checks each run again when it is built.
    """
    variants = [Variant("simmim", ("method=simmim",),
                        {"method": "simmim", "weight_patch_size": None, "temperature": None})] if include_simmim else []
    variants += [Variant(f"w_ps={size}, T={temperature:g}",
                         ("method=kamim", f"weight_patch_size={size}", f"temperature={float(temperature)!r}"),
                         {"method": "kamim", "weight_patch_size": size, "temperature": float(temperature)})
                 for size in weight_patch_sizes for temperature in temperatures]
    return variants


# The controls of KAMIM's weighting (notebook 6): same weights without their spatial link, and a weighted mean.
CONTROL_VARIANTS = (
    Variant("kamim, shuffled weights", ("method=kamim", "weight_shuffle=true"),
            {"method": "kamim", "control": "weights shuffled within each image"}),
    Variant("kamim, loss_normalize=weight", ("method=kamim", "loss_normalize=weight"),
            {"method": "kamim", "control": "loss divided by the weight sum"}),
)


def control_variants(*, include_simmim: bool = True, include_kamim: bool = True) -> list[Variant]:
    """SimMIM and KAMIM as configured, then :data:`CONTROL_VARIANTS`."""
    variants = [Variant("simmim", ("method=simmim",), {"method": "simmim", "control": "none"})] if include_simmim \
        else []
    if include_kamim:
        variants.append(Variant("kamim", ("method=kamim",), {"method": "kamim", "control": "none"}))
    return variants + list(CONTROL_VARIANTS)


def seeded_variants(variants: Sequence[Variant], seeds: Sequence[int]) -> list[Variant]:
    """Every variant once per seed, seed-major (all variants of the first seed first).

    The seed is the engine's ``seed`` key: for one seed, every variant gets the same initialisation, data order and
    masks (the samples are seeded by position and seed, not by method), so the runs of two methods are *paired*.
    The label stays the variant's (the seed is a field), so tables group the seeds of one variant.
    """
    return [Variant(variant.label, (*variant.overrides, f"seed={seed}"), {**variant.fields, "seed": seed})
            for seed in seeds for variant in variants]


def per_seed(results: Sequence[dict], value, seeds: Sequence[int]) -> dict[str, list]:
    """label -> ``[value(result) for each seed]`` from seeded results, in ``seeds`` order.

    Raises:
        ValueError: a label lacks a seed.
    """
    table: dict[str, dict[int, object]] = {}
    for result in results:
        table.setdefault(result["label"], {})[result["fields"]["seed"]] = value(result)
    for label, by_seed in table.items():
        missing = [seed for seed in seeds if seed not in by_seed]
        if missing:
            raise ValueError(f"{label}: no result for seed(s) {missing}.")
    return {label: [by_seed[seed] for seed in seeds] for label, by_seed in table.items()}


def _pretrain_entry(config, summary: dict) -> dict:
    return {"run_id": summary["run_id"], "run_dir": summary["run_dir"], "checkpoint": summary["checkpoint"],
            "method": config.method, "model": config.model, "dataset": config.dataset, "epochs": config.epochs,
            "loss_normalize": config.loss_normalize,
            "train_loss_first_epoch": summary.get("train_loss_first_epoch"),
            "train_loss_last_epoch": summary.get("train_loss_last_epoch")}


def _evaluation_entry(config, summary: dict) -> dict:
    return {"run_id": summary["run_id"], "run_dir": summary["run_dir"], "pretrained": config.pretrained,
            "model": config.model, "dataset": config.dataset, "epochs": config.epochs,
            "top1": summary.get("val_top1"), "top5": summary.get("val_top5"),
            "knn_top1": summary.get("knn_top1"), "knn_top5": summary.get("knn_top5"), "knn_k": summary.get("knn_k"),
            "probe_layer": getattr(config, "probe_layer", None)}


def run_variant(setup: TrainingSetup, variant: Variant, protocol: str | None = None, *,
                pretrained: str | Path | None = None, fit: Callable[..., dict] | None = None) -> dict:
    """Pretrain ``variant`` (resuming or reusing its run), then evaluate it with ``protocol``.

    Args:
        setup: the notebook's :class:`~kamim_paper.experiments.training.TrainingSetup`.
        variant: what to pretrain.
        protocol: "linprobe", "finetune", or None to pretrain only.
        pretrained: a checkpoint to evaluate instead of pretraining (e.g. the original's released weights).
        fit: the training function, ``config -> summary`` (default :func:`kamim_lib.engine.fit`).

    Returns:
        The result dict described in the module docstring.
    """
    if protocol is not None:
        check_choice("protocol", protocol, PROTOCOLS)
    elif pretrained is not None:
        raise ValueError("pretrained is only used with a protocol (linprobe or finetune): nothing would be trained.")
    fit = fit or engine_fit
    pretrain = None
    if pretrained is None:
        config = setup.pretrain_config(variant.overrides)
        pretrain = _pretrain_entry(config, fit(config))
    evaluation = None
    if protocol is not None:
        config = setup.classifier_config(protocol, variant.overrides, pretrained=pretrained)
        evaluation = _evaluation_entry(config, fit(config))
    return {"label": variant.label, "fields": dict(variant.fields), "overrides": list(variant.overrides),
            "pretrain": pretrain, "protocol": protocol, "evaluation": evaluation}


def run_variants(setup: TrainingSetup, variants: Sequence[Variant], protocol: str | None = None, *,
                 pretrained: Mapping[str, str] | None = None, fit: Callable[..., dict] | None = None,
                 log: Callable[[str], None] | None = print) -> list[dict]:
    """:func:`run_variant` for each variant, in order.

    Args:
        pretrained: variant label -> checkpoint to evaluate instead of pretraining that variant.
        log: called with one line per variant (None: silent).

    Raises:
        ValueError: ``pretrained`` names a label that is not among the variants.
    """
    pretrained = dict(pretrained or {})
    unknown = sorted(set(pretrained) - {variant.label for variant in variants})
    if unknown:
        raise ValueError(f"checkpoints given for {', '.join(unknown)}, which are not trained here "
                         f"({', '.join(variant.label for variant in variants)}).")
    results = []
    for index, variant in enumerate(variants, 1):
        if log is not None:
            log(f"[{index}/{len(variants)}] {variant.label}: {' '.join(variant.overrides)}"
                + (f" then {protocol}" if protocol else ""))
        results.append(run_variant(setup, variant, protocol, pretrained=pretrained.get(variant.label), fit=fit))
    return results


def planned_runs(setup: TrainingSetup, variants: Sequence[Variant], protocol: str | None = None, *,
                 pretrained: Mapping[str, str] | None = None) -> list[dict]:
    """The run ids :func:`run_variants` would use, without training: ``[{"label", "pretrain", "evaluation"}]``
    (None where a stage does not run)."""
    pretrained = dict(pretrained or {})
    planned = []
    for variant in variants:
        given = pretrained.get(variant.label)
        pretrain = None if given is not None else run_id(setup.pretrain_config(variant.overrides))
        evaluation = None if protocol is None else \
            run_id(setup.classifier_config(protocol, variant.overrides, pretrained=given))
        planned.append({"label": variant.label, "pretrain": pretrain, "evaluation": evaluation})
    return planned


def recorded_runs(results: Sequence[dict]) -> list[dict]:
    """The run ids of :func:`run_variants` results, in the form of :func:`planned_runs`."""
    return [{"label": result["label"], "pretrain": (result.get("pretrain") or {}).get("run_id"),
             "evaluation": (result.get("evaluation") or {}).get("run_id")} for result in results]


def summary_is_stale(summary_path: str | Path, parameters, force: bool, planned: Sequence[dict]) -> bool:
    """Whether a training notebook must (re)compute its summary.

    True when ``force``, when the summary is missing or was made with other result-relevant parameters
    (``kamim_paper.results.summaries.should_compute``), or when its runs are not the ones ``planned`` now (the
    configuration file was edited: same path, other run ids).
    """
    if should_compute(summary_path, parameters, force):
        return True
    results = json.loads(Path(summary_path).read_text()).get("results", [])
    return recorded_runs(results) != list(planned)


def read_loss_curve(run_dir: str | Path) -> dict[str, list]:
    """The per-epoch training loss of a run, from its ``metrics.jsonl``.

    Returns:
        ``{"epoch": [1, 2, ...], "train_loss": [...], "lr": [...]}``; a non-finite loss (written as text by the
        engine) becomes ``nan``.

    Raises:
        FileNotFoundError: the run has no metrics yet.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the run has not finished an epoch yet.")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {"epoch": [int(record["epoch"]) for record in records],
            "train_loss": [float(record["train_loss"]) for record in records],
            "lr": [float(record["lr"]) for record in records]}


def relative_curve(values: Sequence[float]) -> list[float]:
    """``values / values[0]``: loss curves of different scales (KAMIM's grows with its weights) on one axis."""
    if not values:
        return []
    first = float(values[0])
    if not math.isfinite(first) or first == 0:
        return [math.nan] * len(values)
    return [float(value) / first for value in values]
