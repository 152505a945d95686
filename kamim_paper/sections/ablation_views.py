"""Notebooks 05 and 06: many pretrained variants (detectors; the w_ps × T grid and the weighting controls), each
measured on every paired seed by held-out masked L1 and a converged probe, compared pair by pair with 95 % intervals.

The evidence record (``summary.json["evidence"]`` of ``detectors`` and ``sweep``)::

    {"seeds": [...],
     "val_masked_l1": {label: [per seed]}, "top1": {label: [per seed]},
     "baselines": {"image_blind", "random_init_l1", "raw_pixels", "random_init_top1"},
     "comparisons": [{"a", "b", "metric", "mean", "ci95"}],      # mean of a − b over seeds; ci95 None with one seed
     "error_by_density_decile": {label: [per decile: error mean and 95 % interval over seeds]},
     "decile_comparisons": [{"a", "b", "deciles": [{"decile", "mean", "ci95"}]}],  # paired, per decile
     "deciles_by": {"detector", "weight_patch_size"}, "weighting": {...}, "held_out": {...}, "classifier": "..."}

Every checkpoint is measured on the same benches as notebooks 02 and 03 (:mod:`kamim_paper.evidence.checkpoint_measures`),
so SimMIM's and KAMIM's rows here equal theirs, and their values are read back from the measurement cache.
"""
from __future__ import annotations

from typing import Sequence

from matplotlib.figure import Figure

from kamim_paper.evidence.checkpoint_measures import (DIGITS, LOWER_IS_BETTER, METRICS, probe_baselines, probe_bench,
                                                      reconstruction_baselines, reconstruction_bench)
from kamim_paper.evidence.views import (decile_summary, held_out_description, held_out_measures, probe_description,
                                        probe_measures, weight_concentration)
from kamim_paper.results.figures import experiments as experiment_plots


def paired_entry(a: Sequence[float], b: Sequence[float]) -> dict:
    """``{"mean", "ci95"}`` of ``a − b`` over paired seeds (``ci95`` None with a single seed)."""
    from kamim_lib.stats import paired_difference_ci

    if len(a) >= 2:
        mean, low, high = paired_difference_ci(a, b)
        return {"mean": mean, "ci95": [low, high]}
    return {"mean": float(a[0]) - float(b[0]), "ci95": None}


def paired_comparisons(values: dict[str, dict[str, list]], pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """Each pair ``(a, b)`` on each metric: ``{"a", "b", "metric", "mean", "ci95"}``.

    Args:
        values: metric -> label -> one value per seed (the same seed order everywhere).
        pairs: the labels compared, ``a − b``; pairs naming a label without values are skipped.
    """
    comparisons = []
    for a, b in pairs:
        for metric, by_label in values.items():
            if a in by_label and b in by_label:
                comparisons.append({"a": a, "b": b, "metric": metric, **paired_entry(by_label[a], by_label[b])})
    return comparisons


def detector_pairs(labels: Sequence[str], default_label: str | None) -> list[tuple[str, str]]:
    """Every KAMIM detector variant against SimMIM, then every other detector against ``default_label`` (the
    configured detector's variant)."""
    pairs = [(label, "simmim") for label in labels if label != "simmim"]
    if default_label is not None:
        pairs += [(label, default_label) for label in labels if label not in ("simmim", default_label)]
    return pairs


def sweep_pairs(labels: Sequence[str], default_label: str | None, controls: Sequence[str]) -> list[tuple[str, str]]:
    """Every variant against SimMIM, then each control against ``default_label`` (KAMIM as configured): a control
    that matches KAMIM says that what it removes does not matter."""
    pairs = [(label, "simmim") for label in labels if label != "simmim"]
    if default_label is not None:
        pairs += [(label, default_label) for label in controls if label in labels]
    return pairs


def decile_comparisons(deciles: dict[str, list], pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """Per pair ``(a, b)``, the paired difference of the masked-patch error in each keypoint-density decile.

    Args:
        deciles: label -> one decile list per seed (:func:`~kamim_paper.evidence.weighting.error_by_density_decile`,
            the same held-out patches for every checkpoint, so decile k holds the same patches everywhere).
        pairs: the compared labels; pairs naming a label without deciles are skipped.

    Returns:
        ``[{"a", "b", "deciles": [{"decile", "mean", "ci95"}]}]`` (``ci95`` None with a single seed).
    """
    comparisons = []
    for a, b in pairs:
        if a not in deciles or b not in deciles:
            continue
        rows = []
        for index, first in enumerate(deciles[a][0]):
            rows.append({"decile": first["decile"], **({"label": first["label"]} if "label" in first else {}),
                         **paired_entry([run[index]["error_mean"] for run in deciles[a]],
                                        [run[index]["error_mean"] for run in deciles[b]])})
        comparisons.append({"a": a, "b": b, "deciles": rows})
    return comparisons


def variants_evidence(results: Sequence[dict], seeds: Sequence[int], pretrain_config, probe_config, *,
                      pairs: Sequence[tuple[str, str]], image_blind_passes: int = 2) -> dict:
    """Measure every seeded checkpoint of the variants and compare the ``pairs`` (see the module docstring).

    Args:
        results: seeded :func:`~kamim_paper.experiments.runs.run_variants` results (each with a pretrain
            checkpoint, or an evaluation naming one).
        seeds: the paired seeds.
        pretrain_config: the section's pretraining configuration as configured (data, mask geometry; its detector
            and w_ps cut the density deciles; its T gives the weight concentration).
        probe_config: a linear-probe configuration (data, probe_layer, pooling).
        pairs: ``(a, b)`` label pairs to compare (:func:`detector_pairs`, :func:`sweep_pairs`).
    """
    reconstruction = reconstruction_bench(pretrain_config)
    probe = probe_bench(probe_config)
    masked_l1, deciles = held_out_measures(results, seeds, reconstruction)
    top1 = probe_measures(results, seeds, probe)
    blind = reconstruction_baselines(reconstruction, seeds, image_blind_passes=image_blind_passes)
    pixels = probe_baselines(probe, seeds)
    return {"seeds": [int(seed) for seed in seeds], "val_masked_l1": masked_l1, "top1": top1,
            "baselines": {"image_blind": blind["image_blind"], "random_init_l1": blind["random_init"],
                          "raw_pixels": pixels["raw_pixels"], "random_init_top1": pixels["random_init"]},
            "comparisons": paired_comparisons({"val_masked_l1": masked_l1, "top1": top1}, pairs),
            "error_by_density_decile": {label: decile_summary(runs) for label, runs in deciles.items()},
            "decile_comparisons": decile_comparisons(deciles, pairs),
            "deciles_by": {"detector": pretrain_config.detector,
                           "weight_patch_size": pretrain_config.weight_patch_size},
            "weighting": weight_concentration(reconstruction),
            "held_out": held_out_description(reconstruction), "classifier": probe_description(probe_config)}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _interval(entry: dict, digits: int) -> str:
    if entry["ci95"] is None:
        return "single seed: no interval"
    low, high = entry["ci95"]
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def ablation_tables(evidence: dict, *, title: str, reference: str = "simmim") -> str:
    """Markdown: per variant its mean masked L1 and top-1 with the paired difference to ``reference`` (95 % CI),
    the baselines under it, then every other comparison of the record."""
    from kamim_paper.results import markdown_table
    from kamim_paper.results.tables.markdown import NOT_AVAILABLE

    against = {(entry["a"], entry["metric"]): entry for entry in evidence["comparisons"] if entry["b"] == reference}
    rows = []
    for label in evidence["top1"]:
        row = [label, str(len(evidence["seeds"]))]
        for metric in METRICS:
            digits = DIGITS[metric]
            row.append(f"{_mean(evidence[metric][label]):.{digits}f}")
            entry = against.get((label, metric))
            row += (["reference", "-"] if label == reference else ["-", "-"]) if entry is None else \
                [f"{entry['mean']:+.{digits}f}", _interval(entry, digits)]
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
                       f"{entry['mean']:+.{DIGITS[entry['metric']]}f}", _interval(entry, DIGITS[entry["metric"]])]
                      for entry in others]
        text += ("\n\n#### Other paired comparisons\n\n"
                 + markdown_table(["a − b", "metric", "mean", "95 % CI"], other_rows) + "\n\n")
    return text


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
    low, high = entry["ci95"]
    text += f" (95 % CI [{low:{number_format}}, {high:{number_format}}], {seeds} paired seeds)"
    if low <= 0 <= high:
        return f"{text}: the interval contains 0, so this run cannot tell them apart."
    return f"{text}: the interval excludes 0; {verdict((entry['mean'] < 0) == lower_is_better)}."


def comparison_sentences(evidence: dict) -> list[str]:
    """One generated sentence per comparison: the paired difference, its interval, and what it allows to say."""
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


def _difference_text(row: dict) -> str:
    if row["ci95"] is None:
        return f"{row['mean']:+.3f} (one seed)"
    return f"{row['mean']:+.3f} [{row['ci95'][0]:+.3f}, {row['ci95'][1]:+.3f}]"


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
        sentence = (f"{a} − {b}, unweighted masked-patch error by {detector} keypoint density ({seeds} paired seeds): "
                    f"densest bin {_difference_text(rows[-1])}, {_sparsest_name(rows[0])} {_difference_text(rows[0])}")
        if rows[0]["ci95"] is not None:
            lower = [str(row["decile"]) for row in rows if row["ci95"][1] < 0]
            higher = [str(row["decile"]) for row in rows if row["ci95"][0] > 0]
            sentence += (f"; {a} is lower (interval below 0) in bins {', '.join(lower) or 'none'} and higher in "
                         f"{', '.join(higher) or 'none'} ({_bin_legend(rows)})")
        sentences.append(sentence + ".")
    return sentences


def comparisons_figure(evidence: dict, *, title: str) -> Figure:
    """Every paired difference of an ablation record (notebooks 05/06) with its 95 % interval, one panel per metric."""
    return experiment_plots.plot_paired_comparisons(evidence["comparisons"], metric_names=METRICS,
                                                    seeds=len(evidence["seeds"]), title=title)


def density_figure(evidence: dict) -> Figure:
    """Unweighted masked-patch error per keypoint-density bin of every variant (mean and 95 % CI over seeds)."""
    return experiment_plots.plot_density_deciles(
        evidence["error_by_density_decile"],
        title=f"masked-patch error by {evidence['deciles_by']['detector']} keypoint density (w_ps = "
              f"{evidence['deciles_by']['weight_patch_size']} px; mean and 95 % CI over {len(evidence['seeds'])} "
              f"seeds)")


def conclusion_lines(evidence: dict) -> list[str]:
    """One generated sentence per paired comparison, then per density-bin comparison."""
    return comparison_sentences(evidence) + decile_sentences(evidence)
