"""Check every parameter of every selected notebook before the first one runs.

Each notebook validates its parameters in its second cell with ``notebook_parameters(globals(), <Schema>)``.
`kamim reproduce` runs the same check up front, on the section's defaults (its ``Params``) with the
profile's values on top, so a bad value (``device: gpu``) is reported for every notebook at once, before hours of
earlier notebooks have run.
"""
from __future__ import annotations

from pathlib import Path

from kamim_paper.runner.catalogue import Section
from kamim_paper.runner.parameters import notebook_parameters
from kamim_paper.sections.params import SECTION_PARAMS, section_defaults


def parameter_problem(section: Section, parameters: dict, origins: dict[str, str] | None = None) -> str | None:
    """Why the notebook of ``section`` would reject ``parameters`` (what the runner passes to papermill; the
    section's defaults fill the rest), or None when it accepts them; ``origins`` (parameter -> where its value came
    from) are named in the message."""
    schema = SECTION_PARAMS.get(section.name)
    if schema is None:
        return None
    try:
        notebook_parameters({**section_defaults(schema), **parameters}, schema, origins)
    except ValueError as error:
        return str(error)
    return None


def describe_problems(profile_name: str, problems: list[tuple[Section | None, Path | None, str]]) -> str:
    """One message for every rejected notebook (section None: a problem of the profile's common parameters)."""
    lines = [f"{section.name} ({notebook.name}): {problem}" if section is not None else f"parameters: {problem}"
             for section, notebook, problem in problems]
    return (f"profile '{profile_name}': nothing was run; fix these parameters (in the profile or with --set) "
            "first:\n  - " + "\n  - ".join(lines))
