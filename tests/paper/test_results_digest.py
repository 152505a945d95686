"""The README's results block is the digest of the committed results, and the digest says what the numbers say."""
import json
from pathlib import Path

import pytest

from kamim_paper.results import digest as results_digest

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_carries_the_digest_of_the_committed_smoke_results():
    readme = (REPO / "README.md").read_text()
    block = readme.split(results_digest.BEGIN, 1)[1].split(results_digest.END, 1)[0].strip()
    assert block == results_digest.digest(REPO / "results" / "smoke").strip(), (
        "README.md's results block is stale: run python -m kamim_paper.results.digest results/smoke --write")


def _write_evidence(root: Path, section: str, evidence: dict) -> None:
    (root / section).mkdir(parents=True, exist_ok=True)
    (root / section / "summary.json").write_text(json.dumps({"evidence": evidence}))


def test_findings_follow_the_intervals_and_ratios(tmp_path):
    _write_evidence(tmp_path, "pretrain", {
        "seeds": [0, 1, 2], "ratio_to_image_blind": {"simmim": 0.62, "kamim": 0.85},
        "paired_difference": {"mean": 0.1, "ci95": [0.05, 0.15]}})
    _write_evidence(tmp_path, "linprobe", {
        "top1": {"simmim": [50.0, 52.0], "kamim": [51.0, 55.0]}, "baselines": {"raw_pixels": 40.0},
        "paired_difference": {"mean": 2.0, "ci95": [-1.0, 5.0]}})
    lines = results_digest.findings(tmp_path)
    assert "reached by simmim)" in lines[0] and "kamim" not in lines[0].split("reached by")[1]
    assert "simmim reconstructs masked pixels better" in lines[1]
    assert "cannot tell them apart" in lines[2] and "simmim 51.0 %" in lines[2] and "raw pixels 40.0 %" in lines[2]
    _write_evidence(tmp_path, "linprobe", {
        "top1": {"simmim": [50.0], "kamim": [55.0]}, "baselines": {},
        "paired_difference": {"mean": 5.0, "ci95": [1.0, 9.0]}})
    assert "kamim is ahead" in results_digest.findings(tmp_path)[2]


def test_replacing_the_block_keeps_the_rest_and_refuses_a_readme_without_markers():
    text = f"head\n{results_digest.BEGIN}\nold\n{results_digest.END}\ntail\n"
    assert results_digest.replace_block(text, "new") == f"head\n{results_digest.BEGIN}\nnew\n{results_digest.END}\ntail\n"
    with pytest.raises(ValueError, match="markers"):
        results_digest.replace_block("no markers here", "new")


def test_the_decile_sentence_counts_where_kamim_is_below_simmim(tmp_path):
    def rows(errors):
        return [{"decile": index + 1, "error_mean": error} for index, error in enumerate(errors)]

    _write_evidence(tmp_path, "pretrain", {
        "seeds": [0, 1], "ratio_to_image_blind": {"simmim": 0.9}, "paired_difference": {"mean": 0.0, "ci95": [-1, 1]},
        "weighting": {"temperature": 0.25, "top10_weight_share": 0.35, "max_weight_mean": 53.0,
                      "error_by_density_decile": {"simmim": rows([0.5, 0.6, 0.9]), "kamim": rows([0.7, 0.5, 0.6])}}})
    sentence = results_digest.findings(tmp_path)[3]
    assert "in 2 of 3 keypoint-density deciles (deciles 2, 3;" in sentence  # an older record: its own sentence


def test_the_density_bin_sentence_names_the_no_keypoint_bin():
    def rows(errors):
        return [{"decile": index, "label": "no keypoints" if index == 0 else f"Q{index}", "error_mean": error}
                for index, error in enumerate(errors)]

    sentence = results_digest.density_bins_sentence(rows([0.7, 0.5, 0.6, 0.4]), rows([0.5, 0.6, 0.9, 0.8]))
    assert sentence == ("KAMIM's unweighted masked-patch error is below SimMIM's in 3 of 4 keypoint-density bins "
                        "(no keypoints, then quantiles of the rest): bins 1, 2, 3 (0 = no keypoints, 3 = densest).")


def test_ablation_findings_give_both_metrics_of_each_pair_with_their_verdicts(tmp_path):
    _write_evidence(tmp_path, "sweep", {"seeds": [0, 1, 2, 3, 4], "comparisons": [
        {"a": "kamim, shuffled weights", "b": "kamim", "metric": "val_masked_l1", "mean": -0.02, "ci95": [-0.03, -0.01]},
        {"a": "kamim, shuffled weights", "b": "kamim", "metric": "top1", "mean": 0.5, "ci95": [-1.0, 2.0]}]})
    lines = results_digest.findings(tmp_path)
    assert lines == ["Weighting controls, kamim, shuffled weights − kamim (5 paired seeds): held-out masked L1 -0.0200 "
                     "(95 % CI [-0.0300, -0.0100]): kamim, shuffled weights better; probe top-1 % +0.50 (95 % CI "
                     "[-1.00, +2.00]): cannot tell apart."]


def test_an_ablation_pair_that_repeats_the_main_comparison_is_left_out(tmp_path):
    _write_evidence(tmp_path, "pretrain", {"seeds": [0, 1], "ratio_to_image_blind": {},
                                           "val_masked_l1": {"simmim": [0.6, 0.61], "kamim": [0.7, 0.72]},
                                           "paired_difference": {"mean": 0.1, "ci95": [0.05, 0.15]}})
    _write_evidence(tmp_path, "detectors", {
        "seeds": [0, 1], "val_masked_l1": {"simmim": [0.6, 0.61], "kamim fast": [0.7, 0.72], "kamim orb": [0.65, 0.6]},
        "comparisons": [{"a": "kamim fast", "b": "simmim", "metric": "val_masked_l1", "mean": 0.105, "ci95": [0.0, 0.2]},
                        {"a": "kamim orb", "b": "simmim", "metric": "val_masked_l1", "mean": 0.02, "ci95": [-0.1, 0.1]}]})
    ablation = [line for line in results_digest.findings(tmp_path) if line.startswith("Detector ablation")]
    assert len(ablation) == 1 and ablation[0].startswith("Detector ablation, kamim orb − simmim (2 paired seeds)")
