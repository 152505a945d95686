"""The paper profiles train notebooks 02-06 once (seeds [0], as the original): every paired-evidence step then says
that intervals need 2 seeds instead of crashing. 05 and 06 already run on one seed in the tiny profile
(tests/paper/test_notebooks.py); the linear probe (where a missing tables/ folder once crashed) runs here on one
seed in a fresh output folder, and every evidence step of 02-04 is checked on a result without evidence."""
from __future__ import annotations

import json

import pytest

from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.profiles import load_profile
from kamim_paper.runner.runner import parameters_for, run_notebook
from kamim_paper.sections import finetune, linprobe, pretrain
from kamim_paper.sections.outputs import NO_EVIDENCE, SectionResult, has_paired_evidence

EVIDENCE_STEPS = {pretrain: ("evidence_table", "evidence_figure", "conclusions", "deciles_figure", "weighting_table",
                             "weighting_conclusion"),
                  linprobe: ("evidence_table", "evidence_figure", "conclusions"),
                  finetune: ("evidence_table", "evidence_figure", "conclusions")}


@pytest.mark.parametrize("module", list(EVIDENCE_STEPS), ids=lambda module: module.NAME)
def test_every_evidence_step_says_it_needs_two_seeds(module, tmp_path):
    result = SectionResult(module.NAME, None, tmp_path, {"evidence": None, "provenance": {}})
    for step in EVIDENCE_STEPS[module]:
        assert getattr(module, step)(result) == NO_EVIDENCE, step
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_paired_evidence_needs_both_methods_and_two_seeds():
    class Params:
        def __init__(self, methods, seeds):
            self.methods, self.seeds = methods, seeds

    assert has_paired_evidence(Params(["simmim", "kamim"], [0, 1]))
    assert not has_paired_evidence(Params(["simmim", "kamim"], [0]))
    assert not has_paired_evidence(Params(["kamim"], [0, 1]))


@pytest.mark.slow
def test_the_linear_probe_notebook_on_one_seed_says_it_has_no_interval(tmp_path):
    section = next(section for section in SECTIONS if section.name == "linprobe")
    profile = load_profile("tiny").with_overrides(["seeds=[0]"])
    notebook = notebooks_dir() / section.notebook
    parameters = parameters_for(section, profile, notebook, force=True, output_dir=tmp_path)
    assert parameters["seeds"] == [0]
    assert run_notebook(section, notebook, parameters, tmp_path, force=True) == "ran"
    summary = json.loads((tmp_path / "linprobe" / "summary.json").read_text())
    assert summary["evidence"] is None
    assert NO_EVIDENCE in (tmp_path / "notebooks" / section.notebook).read_text()
