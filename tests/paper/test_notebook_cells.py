"""The generated cells of every notebook: the parameters cell holds the smoke profile's values, the setup cell is
``notebooks/setup_cell.py``; a notebook that disagrees with its sources fails here."""
import ast
import json

import pytest

from kamim_paper.runner import notebook_cells
from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.profiles import load_profile
from kamim_paper.runner.runner import parameters_for
from kamim_paper.sections.params import SECTION_PARAMS


def _cell_values(section) -> dict:
    notebook = json.loads((notebooks_dir() / section.notebook).read_text())
    source = "".join(notebook["cells"][notebook_cells.PARAMETERS_CELL]["source"])
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(source).body}


def test_every_notebook_agrees_with_its_generated_cells():
    assert notebook_cells.sync_notebooks(write=False) == {}


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_a_notebooks_defaults_are_what_the_smoke_run_passes_it(section):
    # "Run all" must compute what `kamim reproduce --profile smoke` computes: same values, except where the run
    # goes (device, output_dir) and force.
    notebook = notebooks_dir() / section.notebook
    passed = parameters_for(section, load_profile("smoke"), notebook, force=False, output_dir=None)
    cell = _cell_values(section)
    assert set(cell) == {field for field in SECTION_PARAMS[section.name].__dataclass_fields__}
    for name in set(passed) - set(notebook_cells.INTERACTIVE_DEFAULTS):
        assert cell[name] == passed[name], name
    assert cell.get("device", "auto") == "auto" and cell["output_dir"] is None and cell["force"] is False


def test_the_check_reports_a_notebook_edited_by_hand(tmp_path, monkeypatch):
    for section in SECTIONS:
        (tmp_path / section.notebook).write_text((notebooks_dir() / section.notebook).read_text())
    (tmp_path / notebook_cells.SETUP_CELL_SOURCE).write_text(
        (notebooks_dir() / notebook_cells.SETUP_CELL_SOURCE).read_text())
    edited = json.loads((tmp_path / "02_pretrain.ipynb").read_text())
    edited["cells"][notebook_cells.PARAMETERS_CELL]["source"][0] = 'profile = "paper"\n'
    (tmp_path / "02_pretrain.ipynb").write_text(json.dumps(edited))
    (tmp_path / notebook_cells.SETUP_CELL_SOURCE).write_text("# another setup\n")
    monkeypatch.setattr(notebook_cells, "notebooks_dir", lambda: tmp_path)
    differences = notebook_cells.sync_notebooks(write=False)
    assert differences["02_pretrain.ipynb"] == ["parameters", "setup"]
    assert all(cells == ["setup"] for name, cells in differences.items() if name != "02_pretrain.ipynb")
    assert notebook_cells.main(["--check"]) == 1
    notebook_cells.sync_notebooks(write=True)
    assert notebook_cells.sync_notebooks(write=False) == {}


def test_literals_are_written_as_python_the_notebooks_can_read():
    value = {"a": [1, 2.5, None, True, "x\"y"], "b": "é"}
    assert ast.literal_eval(notebook_cells.python_literal(value)) == value
    assert notebook_cells.python_literal(["simmim"]) == '["simmim"]'
