"""Notebooks 05 and 06: which pairs are compared (the sections), the paired differences (evidence.ablation), their
tables (results.tables.ablation) and generated sentences (results.sentences)."""
import pytest

from kamim_paper.evidence.ablation import decile_comparisons, paired_comparisons, paired_entry
from kamim_paper.results.sentences import comparison_sentences, decile_sentences
from kamim_paper.results.tables.ablation import ablation_tables
from kamim_paper.sections.detectors import detector_pairs
from kamim_paper.sections.sweep import sweep_pairs
from kamim_paper.results.figures.experiments import plot_paired_comparisons
from kamim_paper.evidence.checkpoint_measures import METRICS


def test_pairs_compare_with_simmim_then_with_kamim_as_configured():
    labels = ["simmim", "kamim fast", "kamim sift", "kamim orb"]
    assert detector_pairs(labels, "kamim fast") == [
        ("kamim fast", "simmim"), ("kamim sift", "simmim"), ("kamim orb", "simmim"),
        ("kamim sift", "kamim fast"), ("kamim orb", "kamim fast")]
    assert detector_pairs(["simmim", "kamim sift"], None) == [("kamim sift", "simmim")]
    controls = ["kamim, shuffled weights", "kamim, loss_normalize=weight"]
    labels = ["simmim", *controls, "w_ps=6, T=0.25"]
    assert sweep_pairs(labels, "w_ps=6, T=0.25", controls) == [
        (controls[0], "simmim"), (controls[1], "simmim"), ("w_ps=6, T=0.25", "simmim"),
        (controls[0], "w_ps=6, T=0.25"), (controls[1], "w_ps=6, T=0.25")]


def test_paired_comparisons_known_answers():
    values = {"val_masked_l1": {"a": [1.0, 2.0, 3.0], "b": [0.5, 1.5, 2.5]},
              "top1": {"a": [90.0, 80.0, 70.0], "b": [80.0, 80.0, 80.0]}}
    entries = paired_comparisons(values, [("a", "b"), ("a", "missing")])
    assert [(entry["metric"], entry["a"], entry["b"]) for entry in entries] == [("val_masked_l1", "a", "b"),
                                                                                 ("top1", "a", "b")]
    assert entries[0]["mean"] == pytest.approx(0.5) and entries[0]["ci95"] == pytest.approx([0.5, 0.5])
    # differences 10, 0, -10: mean 0, sd 10, t(0.975, 2) = 4.302653 -> half width 4.302653 * 10 / sqrt(3)
    assert entries[1]["mean"] == pytest.approx(0.0)
    assert entries[1]["ci95"] == pytest.approx([-24.8414, 24.8414], abs=1e-3)
    single = paired_entry([2.0], [1.5])
    assert single == {"mean": 0.5, "ci95": None}


def _evidence():
    return {"seeds": [0, 1, 2],
            "val_masked_l1": {"simmim": [0.60, 0.62, 0.61], "kamim fast": [0.70, 0.72, 0.71],
                              "kamim sift": [0.60, 0.63, 0.61]},
            "top1": {"simmim": [90.0, 91.0, 92.0], "kamim fast": [90.0, 91.0, 92.0], "kamim sift": [91, 90, 93]},
            "baselines": {"image_blind": 1.0, "random_init_l1": 1.1, "raw_pixels": 80.0, "random_init_top1": 85.0},
            "comparisons": paired_comparisons(
                {"val_masked_l1": {"simmim": [0.60, 0.62, 0.61], "kamim fast": [0.70, 0.72, 0.71],
                                   "kamim sift": [0.60, 0.63, 0.61]},
                 "top1": {"simmim": [90.0, 91.0, 92.0], "kamim fast": [90.0, 91.0, 92.0],
                          "kamim sift": [91, 90, 93]}},
                [("kamim fast", "simmim"), ("kamim sift", "simmim"), ("kamim sift", "kamim fast")]),
            "error_by_density_decile": {
                "simmim": [{"decile": 1, "error_mean": 0.5}, {"decile": 2, "error_mean": 0.9}],
                "kamim fast": [{"decile": 1, "error_mean": 0.6}, {"decile": 2, "error_mean": 0.8}]},
            "deciles_by": {"detector": "fast", "weight_patch_size": 6},
            "held_out": {"images": 360}, "classifier": "logistic regression"}


def test_tables_show_every_variant_its_interval_the_baselines_and_the_other_comparisons():
    text = ablation_tables(_evidence(), title="Detectors")
    lines = text.splitlines()
    fast_row = next(line for line in lines if line.startswith("| kamim fast"))
    assert "+0.1000" in fast_row and "[+0.1000, +0.1000]" in fast_row and "n/a" in fast_row
    assert next(line for line in lines if line.startswith("| simmim")).count("reference") == 2
    assert "image-blind 1.0000" in text and "raw pixels 80.00 %" in text
    assert "| kamim sift − kamim fast |" in text  # the comparison that is not against SimMIM


def test_sentences_are_generated_from_the_intervals():
    sentences = comparison_sentences(_evidence())
    l1 = next(s for s in sentences if s.startswith("kamim fast − simmim, held-out masked L1"))
    assert "excludes 0; simmim is better here" in l1
    top1 = next(s for s in sentences if s.startswith("kamim fast − simmim, probe top-1"))
    assert top1.startswith("kamim fast − simmim, probe top-1 %: +0.00 (95 % CI [+0.00, +0.00], 3 paired seeds)")
    assert top1.endswith("the interval contains 0, so this run cannot tell them apart.")
    assert "kamim fast: held-out masked L1 is 0.71 × the image-blind predictor's (beats it)." in sentences


def test_decile_comparisons_pair_the_seeds_decile_by_decile_and_the_sentences_read_the_intervals():
    def run(errors):
        return [{"decile": index + 1, "error_mean": error} for index, error in enumerate(errors)]

    deciles = {"simmim": [run([0.5, 0.9]), run([0.6, 1.0]), run([0.4, 0.8])],
               "kamim": [run([0.7, 0.6]), run([0.75, 0.7]), run([0.65, 0.5])]}
    comparisons = decile_comparisons(deciles, [("kamim", "simmim"), ("kamim", "absent")])
    assert len(comparisons) == 1 and [row["decile"] for row in comparisons[0]["deciles"]] == [1, 2]
    sparse, dense = comparisons[0]["deciles"]
    # differences 0.2, 0.15, 0.25: sd 0.05, half width t(0.975, 2) * 0.05 / sqrt(3) = 0.1242
    assert sparse["mean"] == pytest.approx(0.2) and sparse["ci95"] == pytest.approx([0.0758, 0.3242], abs=1e-4)
    assert dense["mean"] == pytest.approx(-0.3) and dense["ci95"] == pytest.approx([-0.3, -0.3])
    evidence = {"seeds": [0, 1, 2], "deciles_by": {"detector": "fast"}, "decile_comparisons": comparisons}
    (sentence,) = decile_sentences(evidence)
    assert sentence.startswith("kamim − simmim, unweighted masked-patch error by fast keypoint density (3 paired "
                               "seeds): densest bin -0.300 [-0.300, -0.300], sparsest +0.200 [")
    assert sentence.endswith("kamim is lower (interval below 0) in bins 2 and higher in 1 (2 = densest).")
    # Bins that start with the patches without keypoints name it (bin 0), whatever the number of bins.
    labelled = {label: [[{**row, "decile": row["decile"] - 1, "label": label_of(row)} for row in seed]
                        for seed in runs] for label, runs in deciles.items()
                for label_of in [lambda row: "no keypoints" if row["decile"] == 1 else f"bin {row['decile'] - 1}"]}
    comparisons = decile_comparisons(labelled, [("kamim", "simmim")])
    (sentence,) = decile_sentences({**evidence, "decile_comparisons": comparisons})
    assert ", no-keypoints bin +0.200 [" in sentence
    assert sentence.endswith("in bins 1 and higher in 0 (0 = no keypoints, 1 = densest).")


def test_comparison_figure_has_one_panel_per_metric_and_one_row_per_comparison():
    evidence = _evidence()
    figure = plot_paired_comparisons(evidence["comparisons"], metric_names=METRICS, seeds=3)
    axes = figure.get_axes()
    assert len(axes) == 2
    assert [tick.get_text() for tick in axes[0].get_yticklabels()] == [
        "kamim fast − simmim", "kamim sift − simmim", "kamim sift − kamim fast"]
    with pytest.raises(ValueError, match="no entry"):
        plot_paired_comparisons(evidence["comparisons"], metric_names={"other": "x"}, seeds=3)


def test_decile_summary_gives_the_mean_and_interval_over_seeds_or_the_single_value():
    from kamim_paper.evidence.views import decile_summary

    def run(first, second):
        common = {"density_low": 0.0, "density_high": 1.0, "density_mean": 0.5, "patches": 10}
        return [{"decile": 1, "error_mean": first, **common}, {"decile": 2, "error_mean": second, **common}]

    rows = decile_summary([run(1.0, 2.0), run(3.0, 2.0)])
    assert rows[0]["error_mean"] == pytest.approx(2.0) and rows[0]["error_low"] < 2.0 < rows[0]["error_high"]
    assert rows[1]["error_low"] == rows[1]["error_high"] == pytest.approx(2.0)  # no spread, no width
    single = decile_summary([run(1.0, 2.0)])
    assert single[0]["error_mean"] == 1.0 and "error_low" not in single[0] and single[0]["patches"] == 10


def test_the_decile_figure_keeps_its_legend_beside_the_curves_and_draws_intervals():
    from kamim_paper.results.figures.experiments import plot_density_deciles

    rows = [{"decile": 1, "error_mean": 0.5, "error_low": 0.4, "error_high": 0.6},
            {"decile": 2, "error_mean": 0.7, "error_low": 0.6, "error_high": 0.8}]
    figure = plot_density_deciles({"simmim": rows, "kamim": rows}, title="a long title " * 12)
    (ax,) = figure.get_axes()
    legend = ax.get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 >= ax.bbox.x1  # outside the axes, on the right
    assert len(ax.containers) == 2  # one error-bar container per model
    assert "\n" in figure._suptitle.get_text()  # a long title wraps instead of running off the figure
