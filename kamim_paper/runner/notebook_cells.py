"""The two generated cells of every notebook: the papermill ``parameters`` cell and the setup (Colab) cell.

- The parameters cell holds the section's ``Params`` defaults with the ``smoke`` profile's values on top (``device``
  stays ``"auto"``, ``output_dir`` None): "Run all" in Jupyter therefore computes what ``kamim reproduce --profile
  smoke`` computes, and writes it under ``runs/notebooks/smoke/`` instead of the committed ``results/smoke/``.
- The setup cell is the text of ``notebooks/setup_cell.py``, the one source of it.

``python -m kamim_paper.runner.notebook_cells`` rewrites both cells of every notebook; ``--check`` only reports the
notebooks whose cells differ from their sources (tests/paper/test_notebook_cells.py runs the check).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from kamim_paper.runner.catalogue import SECTIONS, Section, notebooks_dir
from kamim_paper.runner.profiles import load_profile
from kamim_paper.sections.params import SECTION_PARAMS, section_defaults

# The profile whose values the parameters cells hold (the README's default run).
CELL_PROFILE = "smoke"
# Parameters the cell keeps at the section's default whatever the profile says: an interactive session picks its
# own accelerator and writes to its own (git-ignored) folder.
INTERACTIVE_DEFAULTS = ("device", "output_dir", "force")
SETUP_CELL_SOURCE = "setup_cell.py"
# Index of the generated cells: 0 is the title (markdown), 1 the parameters, 2 the setup.
PARAMETERS_CELL, SETUP_CELL = 1, 2


def cell_values(section: Section, profile_name: str = CELL_PROFILE) -> dict:
    """The values of ``section``'s parameters cell: Params defaults, then the profile's values on top."""
    schema = SECTION_PARAMS[section.name]
    values = section_defaults(schema)
    profile = load_profile(profile_name)
    values.update({name: value for name, value in profile.parameters_for(section.name).items()
                   if name in values and name not in INTERACTIVE_DEFAULTS})
    values["profile"] = profile.name
    return values


def python_literal(value) -> str:
    """``value`` as Python source, strings in double quotes (the notebooks' style)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(key)}: {python_literal(item)}" for key, item in value.items()) + "}"
    return repr(value)


def parameters_cell_source(section: Section) -> str:
    """``name = value`` per parameter, in the order of the section's ``Params`` fields."""
    values = cell_values(section)
    lines = [f"{field.name} = {python_literal(values[field.name])}"
             for field in dataclasses.fields(SECTION_PARAMS[section.name])]
    return "\n".join(lines)


def setup_cell_source() -> str:
    return (notebooks_dir() / SETUP_CELL_SOURCE).read_text().rstrip("\n")


def _source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def synced_notebook(section: Section) -> tuple[Path, dict, list[str]]:
    """The notebook of ``section`` with both generated cells as their sources say, and which cells changed."""
    path = notebooks_dir() / section.notebook
    notebook = json.loads(path.read_text())
    cells = notebook["cells"]
    changed = []
    for index, name, source in ((PARAMETERS_CELL, "parameters", parameters_cell_source(section)),
                                (SETUP_CELL, "setup", setup_cell_source())):
        if "".join(cells[index]["source"]) != source:
            cells[index]["source"] = _source_lines(source)
            changed.append(name)
    if "parameters" not in cells[PARAMETERS_CELL].get("metadata", {}).get("tags", []):
        raise ValueError(f"{path.name}: cell {PARAMETERS_CELL} must be the one tagged 'parameters'.")
    return path, notebook, changed


def sync_notebooks(*, write: bool) -> dict[str, list[str]]:
    """``{notebook: [changed cells]}`` for every notebook whose generated cells differ; rewritten when ``write``."""
    differences = {}
    for section in SECTIONS:
        path, notebook, changed = synced_notebook(section)
        if changed:
            differences[path.name] = changed
            if write:
                path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that differ (exit 1 if any)")
    args = parser.parse_args(argv)
    differences = sync_notebooks(write=not args.check)
    for name, cells in differences.items():
        print(f"{name}: {', '.join(cells)} cell{'s' if len(cells) > 1 else ''} "
              + ("differ from the source" if args.check else "regenerated"))
    return 1 if args.check and differences else 0


if __name__ == "__main__":
    sys.exit(main())
