"""Notebooks read like the paper section they reproduce: the parameters cell, the setup cell, then one call per step
into the notebook's own section module. No function, lambda, loop or comprehension in a notebook, no code cell
over 6 lines besides the two generated cells, and valid nbformat without outputs."""
import ast
import importlib
import json
import re

import nbformat
import pytest

from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.notebook_cells import PARAMETERS_CELL, SETUP_CELL
from kamim_paper.sections.params import SECTION_PARAMS

MAX_LINES = 6
FORBIDDEN = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.For, ast.While, ast.ListComp, ast.SetComp,
             ast.DictComp, ast.GeneratorExp, ast.ClassDef)
SECTION_IMPORT = re.compile(r"^from kamim_paper\.sections import (\w+)$", re.MULTILINE)


def _code_cells(section):
    notebook = json.loads((notebooks_dir() / section.notebook).read_text())
    return [(index, "".join(cell["source"])) for index, cell in enumerate(notebook["cells"])
            if cell["cell_type"] == "code"]


def _python(source: str) -> str:
    """The cell without IPython magics (``%matplotlib inline``), which are not Python."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def structure_problems(section) -> list[str]:
    problems = []
    for index, source in _code_cells(section):
        if index in (PARAMETERS_CELL, SETUP_CELL):
            continue
        lines = [line for line in source.split("\n") if line.strip()]
        if len(lines) > MAX_LINES:
            problems.append(f"cell {index} has {len(lines)} lines (at most {MAX_LINES})")
        for node in ast.walk(ast.parse(_python(source))):
            if isinstance(node, FORBIDDEN):
                problems.append(f"cell {index} holds a {type(node).__name__} (logic belongs in the section module)")
    return problems


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_a_notebook_is_narrative_and_one_call_per_step(section):
    assert structure_problems(section) == []


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_a_notebook_imports_its_own_section_module(section):
    imported = {name for _, source in _code_cells(section) for name in SECTION_IMPORT.findall(source)}
    assert imported == {section.name}
    module = importlib.import_module(f"kamim_paper.sections.{section.name}")
    assert module.Params is SECTION_PARAMS[section.name]
    assert callable(module.parameters) and callable(module.compute)


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_a_notebook_is_valid_nbformat_without_outputs(section):
    notebook = nbformat.read(str(notebooks_dir() / section.notebook), as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    assert "parameters" in notebook.cells[PARAMETERS_CELL].metadata.get("tags", [])
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in notebook.cells if cell.cell_type == "code")


def test_the_checker_finds_logic_in_a_cell(monkeypatch, tmp_path):
    # The structure test would pass vacuously if it could not see a loop or a long cell.
    section = next(section for section in SECTIONS if section.name == "pretrain")
    notebook = json.loads((notebooks_dir() / section.notebook).read_text())
    notebook["cells"].append({"cell_type": "code", "execution_count": None, "id": "x", "metadata": {},
                              "outputs": [], "source": ["for i in range(3):\n", "    print(i)"]})
    notebook["cells"].append({"cell_type": "code", "execution_count": None, "id": "y", "metadata": {},
                              "outputs": [], "source": ["a = 1\n"] * 7})
    (tmp_path / section.notebook).write_text(json.dumps(notebook))
    monkeypatch.setattr(f"{__name__}.notebooks_dir", lambda: tmp_path)
    problems = structure_problems(section)
    assert any("For" in problem for problem in problems) and any("7 lines" in problem for problem in problems)
