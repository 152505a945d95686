"""`kamim reproduce` says whether every committed number was reproduced: every number of every section summary
compared with git HEAD, timings and provenance left out; the run report records it."""
import json
import subprocess

from kamim_paper.results import digest
from kamim_paper.results.reproduced import compare_with_committed, describe, numbers
from kamim_paper.results.run_report import write_run_report

SUMMARY = {"provenance": {"date": "2026-11-27", "git_commit": "abc"},
           "results": [{"label": "simmim", "pretrain": {"final_loss": 0.5, "wall_time_s": 12.0}}],
           "evidence": {"held_out": {"simmim": [0.61, 0.62]}, "seeds": [0, 1], "ok": True}}


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _committed_repo(tmp_path):
    repo = tmp_path / "repo"
    section = repo / "results" / "smoke" / "pretrain"
    section.mkdir(parents=True)
    (section / "summary.json").write_text(json.dumps(SUMMARY))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "results")
    return repo, section


def test_numbers_are_the_numeric_leaves_without_run_descriptions():
    assert numbers(SUMMARY) == {"results[0].pretrain.final_loss": 0.5, "evidence.held_out.simmim[0]": 0.61,
                                "evidence.held_out.simmim[1]": 0.62, "evidence.seeds[0]": 0, "evidence.seeds[1]": 1}


def test_a_rerun_with_other_timings_and_provenance_reproduces(tmp_path):
    repo, section = _committed_repo(tmp_path)
    rerun = json.loads(json.dumps(SUMMARY))
    rerun["provenance"] = {"date": "2026-12-06", "git_commit": "def"}
    rerun["results"][0]["pretrain"]["wall_time_s"] = 99.0
    rerun["results"][0]["pretrain"]["unreadable_files_skipped"] = 0  # a new output is not a failure to reproduce
    (section / "summary.json").write_text(json.dumps(rerun))
    comparison = compare_with_committed(repo / "results" / "smoke", repo)
    assert comparison.reproduced and comparison.compared == 5
    assert comparison.new == ["pretrain: results[0].pretrain.unreadable_files_skipped"]
    assert describe(comparison).startswith("every committed number was reproduced: 5 numbers in 1 sections")


def test_a_changed_number_is_named(tmp_path):
    repo, section = _committed_repo(tmp_path)
    rerun = json.loads(json.dumps(SUMMARY))
    rerun["evidence"]["held_out"]["simmim"][1] = 0.63
    del rerun["results"][0]["pretrain"]["final_loss"]
    (section / "summary.json").write_text(json.dumps(rerun))
    (section.parent / "peers").mkdir()
    (section.parent / "peers" / "summary.json").write_text(json.dumps({"x": 1}))
    comparison = compare_with_committed(repo / "results" / "smoke", repo)
    assert not comparison.reproduced
    assert comparison.differences == [("pretrain", "evidence.held_out.simmim[1]", 0.62, 0.63),
                                      ("pretrain", "results[0].pretrain.final_loss", 0.5, None)]
    assert comparison.not_committed == ["peers"]
    text = describe(comparison)
    assert "2 of 5 committed numbers differ" in text and "committed 0.62, now 0.63" in text and "peers" in text


def test_outside_a_checkout_it_says_so_and_the_report_records_unknown(tmp_path):
    out = tmp_path / "elsewhere"
    (out / "pretrain").mkdir(parents=True)
    (out / "pretrain" / "summary.json").write_text(json.dumps(SUMMARY))
    comparison = compare_with_committed(out, tmp_path / "repo")
    assert comparison.unavailable and describe(comparison).startswith("not compared")
    path = write_run_report(out, "smoke", {"pretrain": "ok"}, {"pretrain": 3.5}, 4.0, comparison)
    report = json.loads(path.read_text())
    assert report["reproduced_committed_numbers"] is None
    assert report["sections"] == {"pretrain": {"outcome": "ok", "seconds": 3.5}} and report["total_seconds"] == 4.0


def test_only_the_committed_smoke_folder_rewrites_the_readme(tmp_path):
    assert digest.is_digest_source(digest.README.parent / "results" / "smoke", "smoke")
    assert not digest.is_digest_source(tmp_path / "smoke", "smoke")
    assert not digest.is_digest_source(digest.README.parent / "results" / "tiny", "tiny")


def test_a_reproduction_into_the_digested_folder_leaves_the_readme_test_green(tmp_path, monkeypatch):
    # The README's two commands in either order: `main` regenerates the digested results folder, after which the
    # README-digest test must still pass (it failed before because the README kept the old block).
    from kamim_paper.runner.runner import reproduce

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{digest.BEGIN}\nold block\n{digest.END}\nrest\n")
    monkeypatch.setattr(digest, "README", readme)
    monkeypatch.setattr(digest, "DIGEST_PROFILE", "tiny")
    out_dir = tmp_path / "results" / "tiny"
    assert reproduce("tiny", only=["method"], out_dir=out_dir, log=lambda line: None) == []
    block = readme.read_text().split(digest.BEGIN, 1)[1].split(digest.END, 1)[0].strip()
    assert block == digest.digest(out_dir).strip()
    assert json.loads((out_dir / "reproduce.json").read_text())["sections"]["method"]["outcome"] == "ok"
