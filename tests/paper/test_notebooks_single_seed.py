"""The paper profiles train notebooks 02-06 once (seeds [0], as the original): every paired-evidence path then says
that intervals need 2 seeds instead of crashing. 05 and 06 already run on one seed in the tiny profile
(tests/paper/test_notebooks.py); this runs 03, 04 and 02 on one seed, each in a fresh output folder."""
from __future__ import annotations

import json

import pytest

from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.profiles import load_profile
from kamim_paper.runner.runner import parameters_for, run_notebook

NEEDS_TWO_SEEDS = "Paired evidence needs methods simmim and kamim and at least 2 seeds."


@pytest.mark.slow
@pytest.mark.parametrize("name", ["linprobe", "finetune", "pretrain"])
def test_training_notebook_on_one_seed_says_it_has_no_interval(name, tmp_path):
    section = next(section for section in SECTIONS if section.name == name)
    profile = load_profile("tiny").with_overrides(["seeds=[0]"])
    notebook = notebooks_dir() / section.notebook
    parameters = parameters_for(section, profile, notebook, force=True, output_dir=tmp_path)
    assert parameters["seeds"] == [0]
    assert run_notebook(section, notebook, parameters, tmp_path, force=True) == "ran"
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary["evidence"] is None
    executed = (tmp_path / "notebooks" / section.notebook).read_text()
    assert NEEDS_TWO_SEEDS in executed
