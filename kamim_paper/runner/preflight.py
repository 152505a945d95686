"""Check every parameter of every selected notebook before the first one runs.

Each notebook validates its parameters in its second cell with ``notebook_parameters(globals(), <Schema>)``.
`kamim reproduce` runs the same check up front, on the notebook's defaults (its ``parameters`` cell) with the
profile's values on top, so a bad value (``device: gpu``) is reported for every notebook at once, before hours of
earlier notebooks have run.
"""
from __future__ import annotations

import ast
from pathlib import Path

from kamim_paper.runner import schemas
from kamim_paper.runner.catalogue import Section
from kamim_paper.runner.parameters import notebook_parameters

# The schema each section notebook passes to notebook_parameters (tests check that the notebooks use these).
SECTION_SCHEMAS: dict[str, type] = {
    "method": schemas.MethodParams, "pretrain": schemas.PretrainParams, "linprobe": schemas.LinearProbeParams,
    "finetune": schemas.FinetuneParams, "detectors": schemas.DetectorAblationParams, "sweep": schemas.SweepParams,
    "attention": schemas.AttentionParams, "fourier": schemas.FourierParams, "tokens": schemas.TokensParams,
    "reconstructions": schemas.ReconstructionParams, "masking": schemas.MaskingParams, "peers": schemas.PeersParams,
}


def notebook_defaults(declared: dict) -> dict:
    """The literal default of each declared parameter (papermill's ``inspect_notebook`` gives source text)."""
    defaults = {}
    for name, info in declared.items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError, KeyError, TypeError):
            pass  # not a literal: the schema reports it as missing only if the notebook really lacks it
    return defaults


def parameter_problem(section: Section, declared: dict, parameters: dict) -> str | None:
    """Why the notebook of ``section`` would reject ``parameters`` (None when it accepts them).

    Args:
        declared: ``declared_parameters(notebook)``.
        parameters: what the runner passes to papermill.
    """
    schema = SECTION_SCHEMAS.get(section.name)
    if schema is None:
        return None
    try:
        notebook_parameters({**notebook_defaults(declared), **parameters}, schema)
    except ValueError as error:
        return str(error)
    return None


def describe_problems(profile_name: str, problems: list[tuple[Section, Path, str]]) -> str:
    """One message for every rejected notebook."""
    lines = [f"{section.name} ({notebook.name}): {problem}" for section, notebook, problem in problems]
    return (f"profile '{profile_name}': nothing was run; fix these parameters (in the profile or with --set) "
            "first:\n  - " + "\n  - ".join(lines))
