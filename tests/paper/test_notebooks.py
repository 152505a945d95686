"""Notebook hygiene (valid nbformat, no outputs, kernel python3, first code cell tagged `parameters`) and a
papermill run of every section notebook with the tiny parameters of params/tiny.yaml."""
from pathlib import Path

import nbformat
import pytest

from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.profiles import load_profile
from kamim_paper.runner.runner import reproduce
from kamim_paper.runner.runner import NotebookFailed, run_notebook

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))


def test_catalogue_notebooks_exist():
    assert {s.notebook for s in SECTIONS} <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


def test_unknown_parameter_fails_naming_it(tmp_path):
    section = next(s for s in SECTIONS if s.name == "method")
    with pytest.raises(NotebookFailed) as info:
        run_notebook(section, notebooks_dir() / section.notebook,
                     {"profile": "tiny", "temprature": 0.5, "output_dir": str(tmp_path)}, tmp_path)
    assert "temprature" in info.value.error and "did you mean 'temperature'" in info.value.error


@pytest.mark.slow
@pytest.mark.long
def test_every_section_runs_with_tiny_parameters(tmp_path):
    lines = []
    profile = load_profile("tiny")
    failures = reproduce(profile, out_dir=tmp_path, log=lines.append)
    assert not failures, "\n".join(map(str, failures))
    for section in SECTIONS:
        assert (tmp_path / "notebooks" / section.notebook).exists()
    # a second run skips everything
    lines.clear()
    assert not reproduce(profile, out_dir=tmp_path, log=lines.append)
    assert sum("skipped" in line for line in lines) == len(SECTIONS)
