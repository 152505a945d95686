"""Section 12's module (kamim_paper.sections.peers): rows, intervals, tables, figures and generated conclusions follow
the numbers of a known summary, and land under the section's output folder with the names the notebook always
used."""
from __future__ import annotations

import json
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

from kamim_lib.stats import paired_difference_ci
from kamim_paper.sections import peers as section
from kamim_paper.sections.outputs import Markdown, SectionResult
from kamim_paper.sections.params import PeersParams


def _result(label, seed, protocol, top1, knn=None):
    return {"label": label, "fields": {"peer": label, "seed": seed}, "protocol": protocol,
            "evaluation": {"top1": top1, "knn_top1": knn, "run_id": f"{label}-{seed}-{protocol}"}}


def test_rows_and_sentences_from_paired_seeds():
    results = [_result("simmim", s, "linprobe", v) for s, v in ((0, 10.0), (1, 12.0), (2, 14.0))]
    results += [_result("kamim", s, "linprobe", v) for s, v in ((0, 13.0), (1, 15.0), (2, 17.5))]
    results += [_result("semanticmim", 0, "linprobe", 9.0), _result("kamim", 0, "finetune", 50.0)]
    values = section.per_seed(results, "linprobe", "top1")
    assert values["kamim"] == {0: 13.0, 1: 15.0, 2: 17.5}
    rows = {row["variant"]: row for row in section.comparison_rows(values, published={"kamim": 1.5})}
    assert rows["simmim"]["vs simmim"] == "reference" and rows["simmim"]["ours"] == 12.0
    mean, low, high = paired_difference_ci([13, 15, 17.5], [10, 12, 14])
    assert rows["kamim"]["vs simmim"] == f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] (n=3)"
    assert rows["kamim"]["paper"] == 1.5 and rows["semanticmim"]["vs simmim"] == "n/a"
    assert "better than simmim" in section.difference_sentence("kamim", values, "linprobe top-1")
    assert "single seed 0" in section.difference_sentence("semanticmim", values, "linprobe top-1")
    noisy = {"simmim": {0: 10.0, 1: 12.0}, "kamim": {0: 11.0, 1: 11.0}}
    assert "not distinguishable" in section.difference_sentence("kamim", noisy, "x")
    constant = {"simmim": {0: 10.0, 1: 12.0}, "kamim": {0: 11.0, 1: 13.0}}
    assert "no spread" in section.difference_sentence("kamim", constant, "x")


def test_sweep_curves_and_sentences():
    def sweep(label, seed, top1s):
        return {"label": label, "seed": seed,
                "rows": [{"keep_rate": rate, "top1": top1, "images_per_s": 100 / rate}
                         for rate, top1 in zip((1.0, 0.2), top1s)]}

    curves = section.sweep_curves([sweep("simmim", 0, (80, 40)), sweep("simmim", 1, (82, 44)),
                                 sweep("simmim+pss", 0, (79, 70))])
    assert curves["simmim"]["keep_rate"] == [1.0, 0.2] and curves["simmim"]["top1"] == [81, 42]
    assert curves["simmim"]["top1_low"] == [80, 40] and curves["simmim"]["images_per_s"] == [100, 500]
    (sentence,) = section.pss_sentences(curves, [])
    assert "simmim+pss reaches 70.0 % top-1 against 42.0 %" in sentence




def test_the_section_module_is_the_notebooks_whole_api():
    assert section.Params is PeersParams
    assert {"parameters", "plan", "compute", "protocols_table", "linprobe_figure", "finetune_figure", "knn_figure",
            "pss_table", "dynamic_inference_figure", "conclusions"} <= set(section.__all__)


def test_metrics_are_top1_per_protocol_and_knn_with_the_linear_probe():
    assert section.metrics(["linprobe", "finetune"]) == [
        ("linprobe", "top1", "linprobe top-1 %"), ("finetune", "top1", "finetune top-1 %"),
        ("linprobe", "knn_top1", "kNN top-1 %")]
    assert section.metrics(["finetune"]) == [("finetune", "top1", "finetune top-1 %")]


def test_conclusion_lines_known_answer():
    values = {"linprobe top-1 %": {"simmim": {0: 10.0, 1: 12.0, 2: 14.0}, "kamim": {0: 13.0, 1: 15.0, 2: 17.5}},
              "finetune top-1 %": {"simmim": {0: 50.0}, "kamim": {0: 49.0}}}
    curves = {"simmim": {"keep_rate": [1.0, 0.2], "top1": [81.0, 42.0]},
              "simmim+pss": {"keep_rate": [1.0, 0.2], "top1": [79.0, 70.0]}}
    time_rows = [{"variant": "simmim+pss", "n": "1", "metric": "fine-tune time saved %", "ours": 25.0,
                  "paper": 30.894308943089435}]
    assert section.conclusion_lines(values, curves, time_rows) == [
        # differences 3, 3, 3.5: mean 3.1667, sd 0.2887, t_{0.975, 2} = 4.3027 -> half width 0.7171
        "kamim − simmim (linprobe top-1 %) = +3.17 points, 95 % interval [+2.45, +3.88] over 3 paired seeds: "
        "better than simmim.",
        "kamim − simmim (finetune top-1 %) = -1.00 points on the single seed 0: no interval and no conclusion "
        "(give at least 2 seeds).",
        "simmim+pss: fine-tuning (training session, evaluations included) took 25 % less wall time than without "
        "PSS (PSS's README: 31 % on ViT-B/ImageNet), over 1 seed(s); a busy machine makes this noisy "
        "(benchmarks/pss_step.py times the step alone).",
        "At keep rate 0.2 (drop 0.8), simmim+pss reaches 70.0 % top-1 against 42.0 % for the same backbone "
        "fine-tuned without PSS (+28.0 points; full tokens: 79.0 vs 81.0 %).",
    ]


def test_sweep_rows_one_per_label_and_keep_rate():
    curves = {"simmim": {"keep_rate": [1.0, 0.2], "top1": [81.0, 42.0], "images_per_s": [100.0, 480.4]}}
    assert section.sweep_rows(curves) == [
        {"variant": "simmim", "keep rate": "1.0", "images/s (one timing)": "100", "ours": 81.0, "paper": None},
        {"variant": "simmim", "keep rate": "0.2", "images/s (one timing)": "480", "ours": 42.0, "paper": None}]


PROVENANCE = {"profile": "tiny", "git_commit": "abc", "device": "cpu", "date": "2026-12-06", "torch": "2.9"}


def _evaluated(tmp_path, label, seed, protocol, top1, knn=None, wall_time=None):
    result = _result(label, seed, protocol, top1, knn)
    result["evaluation"].update(model="vit_micro12", dataset="photo_crops")
    if wall_time is not None:   # a fine-tune run directory whose summary holds the session's wall time
        run_dir = tmp_path / "runs" / f"{label}-{seed}"
        run_dir.mkdir(parents=True)
        (run_dir / "summary.json").write_text(json.dumps({"session_wall_time_s": wall_time}))
        result["evaluation"]["run_dir"] = str(run_dir)
    return result


def _section_result(tmp_path, protocols=("linprobe", "finetune")) -> SectionResult:
    peers = [_evaluated(tmp_path, "simmim", 0, "linprobe", 10.0, 20.0),
             _evaluated(tmp_path, "simmim", 1, "linprobe", 12.0, 22.0),
             _evaluated(tmp_path, "kamim", 0, "linprobe", 13.0, 21.0),
             _evaluated(tmp_path, "kamim", 1, "linprobe", 15.5, 25.0),
             _evaluated(tmp_path, "simmim", 0, "finetune", 50.0, wall_time=100.0),
             _evaluated(tmp_path, "simmim", 1, "finetune", 52.0, wall_time=200.0),
             _evaluated(tmp_path, "kamim", 0, "finetune", 51.0, wall_time=100.0),
             _evaluated(tmp_path, "kamim", 1, "finetune", 53.0, wall_time=100.0)]
    peers = [result for result in peers if result["protocol"] in protocols]
    baselines = [_evaluated(tmp_path, "random init", seed, protocol, 5.0, 6.0) for seed in (0, 1)
                 for protocol in protocols]
    pss = [{**_evaluated(tmp_path, "simmim+pss", seed, "finetune", top1), "timing": {"wall_time_s": time}}
           for seed, top1, time in ((0, 49.0, 75.0), (1, 50.0, 100.0))] if "finetune" in protocols else []
    sweeps = [{"label": label, "seed": 0, "rows": [{"keep_rate": 1.0, "top1": full, "images_per_s": 100.0},
                                                   {"keep_rate": 0.2, "top1": low, "images_per_s": 400.0}]}
              for label, full, low in (("simmim", 50.0, 20.0), ("simmim+pss", 49.0, 40.0))]
    params = SimpleNamespace(protocols=list(protocols), pss_sources=["simmim"], pss_schedule="cyclic",
                             pss_scorers=["l1"])
    summary = {"section": "peers", "provenance": PROVENANCE, "sweeps": sweeps,
               "results": {"peers": peers, "baselines": baselines, "pss": pss}}
    return SectionResult("peers", params, tmp_path, summary)


def test_the_tables_are_written_under_their_old_names_with_the_numbers(tmp_path):
    result = _section_result(tmp_path)
    table = section.protocols_table(result)
    assert isinstance(table, Markdown) and (tmp_path / "tables" / "peers.md").read_text() == table
    mean, low, high = paired_difference_ci([13.0, 15.5], [10.0, 12.0])
    assert ("### Peers: linprobe top-1 % (vit_micro12, photo_crops); paper = the peer's published number, its "
            "setting") in table
    assert f"| kamim | 2 | {mean:+.2f} [{low:+.2f}, {high:+.2f}] (n=2) | 14.25 | n/a |" in table
    assert "| random init | 2 | -6.00 [-18.71, +6.71] (n=2) | 5.00 | n/a |" in table   # 5 - (10, 12)
    assert "### Peers: kNN top-1 %" in table and "| kamim | 2 |" in table.split("kNN top-1 %")[1]
    assert "Published numbers: attmask linprobe: AttMask README" in table
    pss = section.pss_table(result)
    assert (tmp_path / "tables" / "peers_pss.md").read_text() == pss
    assert "| simmim | 2 | reference | 51.00 | 83.70 |" in pss and "| simmim+pss | 2 |" in pss
    # wall time saved: seed 0 1 - 75/100 = 25 %, seed 1 1 - 100/200 = 50 %: mean 37.5 (one decimal), paper 30.9
    assert "| simmim+pss | 2 | fine-tune time saved % | 37.5 | 30.9 |" in pss
    assert "| simmim+pss | 0.2 | 400 | 40.00 | n/a |" in pss


def test_the_figures_are_saved_under_their_old_names(tmp_path):
    result = _section_result(tmp_path)
    for draw in (section.linprobe_figure, section.finetune_figure, section.knn_figure,
                 section.dynamic_inference_figure):
        draw(result)
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == [
        "peers_dynamic_inference.png", "peers_finetune_top1.png", "peers_kNN_top1.png", "peers_linprobe_top1.png"]


def test_a_metric_that_was_not_measured_says_so(tmp_path):
    result = _section_result(tmp_path, protocols=("linprobe",))
    assert section.finetune_figure(result).startswith("Not measured: finetune top-1 %")
    assert not (tmp_path / "figures" / "peers_finetune_top1.png").exists()


def test_conclusions_of_a_summary(tmp_path):
    lines = section.conclusions(_section_result(tmp_path)).split("\n")
    assert lines[0].startswith("- kamim − simmim (linprobe top-1 %) = +3.25 points, 95 % interval")
    # every peer and the baseline against simmim, metric by metric, then PSS
    assert [line.split(" (")[0] for line in lines[:6]] == ["- kamim − simmim", "- random init − simmim"] * 3
    assert [line.split(" (")[1].split(")")[0] for line in lines[:6:2]] == [
        "linprobe top-1 %", "finetune top-1 %", "kNN top-1 %"]
    assert "took 38 % less wall time than without PSS" in lines[6]
    assert lines[7].startswith("- At keep rate 0.2 (drop 0.8), simmim+pss reaches 40.0 % top-1 against 20.0 %")
    assert len(lines) == 8
