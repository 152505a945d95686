"""Table rows and grids from the results of :func:`kamim_paper.experiments.runs.run_variants`.

Rows are dicts for ``kamim_paper.results.comparison_table``: label columns as text, then ``ours`` beside ``paper``
(None = unknown, printed "n/a"). The paper's number is only looked up where it exists (SPEC §2: ImageNet-1K top-1
of its models); ablation tables never show one.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from kamim_lib._validation import check_choice
from kamim_paper.evidence.records import method_intervals
from kamim_paper.results import markdown_table, paper_value
from kamim_paper.results.labels import display_label
from kamim_paper.results.sentences import difference_verdict, interval
from kamim_paper.results.tables.markdown import NOT_AVAILABLE

# Evaluation metrics of a result, in table order, with their display names.
EVALUATION_METRICS = {"top1": "top-1 %", "top5": "top-5 %", "knn_top1": "kNN top-1 %", "knn_top5": "kNN top-5 %"}
FINAL_LOSS = "final train loss"


def _labels(values: Mapping) -> dict:
    return {key: display_label(value) for key, value in values.items()}


def _paper(result: dict, metric: str, with_paper: bool) -> float | None:
    evaluation = result["evaluation"]
    method = result["fields"].get("method")
    if not with_paper or metric != "top1" or method is None:
        return None
    return paper_value(evaluation["model"], method, result["protocol"], evaluation["dataset"])


def evaluation_rows(results: Sequence[dict], *, with_paper: bool = False,
                    metrics: Sequence[str] = tuple(EVALUATION_METRICS)) -> list[dict]:
    """One table row per (result, metric) with ``ours`` and ``paper`` (None = unknown), for ``comparison_table``.

    Args:
        results: :func:`kamim_paper.experiments.runs.run_variants` results with a protocol.
        with_paper: look the paper's top-1 up (``kamim_paper.results.paper_value``: known for ImageNet-1K and the
            paper's models only). False for ablations whose numbers the paper does not give here.
        metrics: keys of :data:`EVALUATION_METRICS`; a metric a result lacks (kNN when fine-tuning) is skipped.

    Returns:
        Dicts with the result's ``fields``, ``variant``, ``model``, ``dataset``, ``protocol``, ``metric`` (display
        name) as text (:func:`~kamim_paper.results.labels.display_label`), and the numbers ``ours`` and ``paper``.
    """
    rows = []
    for result in results:
        evaluation = result.get("evaluation")
        if evaluation is None:
            raise ValueError(f"result {result['label']!r} has no evaluation: run it with a protocol.")
        for metric in metrics:
            check_choice("metrics", metric, EVALUATION_METRICS)
            if evaluation.get(metric) is None:
                continue
            labels = _labels({**result["fields"], "variant": result["label"], "model": evaluation["model"],
                              "dataset": evaluation["dataset"], "protocol": result["protocol"],
                              "metric": EVALUATION_METRICS[metric]})
            rows.append({**labels, "ours": evaluation[metric], "paper": _paper(result, metric, with_paper)})
    return rows


def pretrain_rows(results: Sequence[dict]) -> list[dict]:
    """One row per pretrained result: its final training loss (the paper reports none: ``paper`` is None)."""
    rows = []
    for result in results:
        pretrain = result.get("pretrain")
        if pretrain is None:
            continue
        labels = _labels({**result["fields"], "variant": result["label"], "model": pretrain["model"],
                          "dataset": pretrain["dataset"], "epochs": pretrain["epochs"],
                          "loss_normalize": pretrain["loss_normalize"], "metric": FINAL_LOSS})
        rows.append({**labels, "ours": pretrain["train_loss_last_epoch"], "paper": None})
    return rows


def result_value(result: dict, metric: str) -> float | None:
    """A number of a result: an evaluation metric (``top1``, ``knn_top1``, ...) or ``final_loss``."""
    if metric == "final_loss":
        return (result.get("pretrain") or {}).get("train_loss_last_epoch")
    check_choice("metric", metric, (*EVALUATION_METRICS, "final_loss"))
    return (result.get("evaluation") or {}).get(metric)


def grid_matrix(results: Sequence[dict], *, row_key: str, row_values: Sequence, column_key: str,
                column_values: Sequence, metric: str) -> list[list[float | None]]:
    """``matrix[i][j]`` = ``metric`` of the result whose fields have ``row_key = row_values[i]`` and
    ``column_key = column_values[j]`` (None where no such result or no such number), e.g. the w_ps x T heatmap."""
    by_cell = {(result["fields"].get(row_key), result["fields"].get(column_key)): result for result in results}
    return [[result_value(by_cell[(row, column)], metric) if (row, column) in by_cell else None
             for column in column_values] for row in row_values]


def evidence_table(record: dict, *, title: str, baseline_names: Mapping[str, str], lower_is_better: bool,
                   digits: int = 3) -> str:
    """A markdown table of an evidence record (``kamim_paper.evidence.records``): each method's mean with its 95 %
    interval over seeds, the baselines, and the paired KAMIM − SimMIM difference; then a generated verdict.

    Args:
        record: the ``evidence`` record of a section summary.
        title: the table's heading.
        baseline_names: record baseline key -> how the table names it.
        lower_is_better: True for errors (masked L1), False for accuracies.

    The paper column reads "n/a": the paper reports no such number for this setting.
    """
    metric = record["paired_difference"]["metric"]
    n = str(len(record["seeds"]))
    rows = [[method, n, mean, interval((low, high), f".{digits}f"), NOT_AVAILABLE]
            for method, (mean, low, high) in method_intervals(record).items()]
    rows += [[f"baseline: {baseline_names.get(name, name)}", "-", value, "-", NOT_AVAILABLE]
             for name, value in record["baselines"].items()]
    difference = record["paired_difference"]
    rows.append([f"paired difference {difference['a']} − {difference['b']}", n, difference["mean"],
                 interval(difference["ci95"], f".{digits}f"), NOT_AVAILABLE])
    better = "lower is better" if lower_is_better else "higher is better"
    # the table ends with a newline: one more makes the blank line that keeps the verdict out of the table; the
    # blank line after the verdict keeps a provenance line appended to the text a paragraph of its own
    return (f"### {title}\n\n" + markdown_table([f"{metric} ({better})", "seeds", "mean", "95 % CI", "paper"], rows,
                                                 digits=digits)
            + f"\n{difference_verdict(record, lower_is_better=lower_is_better)}\n\n")
