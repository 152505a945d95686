"""Validation of a notebook's papermill parameters.

papermill only warns about a parameter the notebook does not declare, and the value is then silently unused.
Each notebook's second cell therefore calls ``notebook_parameters(globals(), SchemaClass)``: at that point the
notebook's namespace holds the parameters cell's names, whatever papermill injected, and imports; any other
plain-data name (papermill can only inject str, numbers, bools, None, lists and dicts) is a mistyped or unknown
parameter and is reported by name.
"""
from __future__ import annotations

from kamim_lib.config.checks import MENTIONED_KEY, config_fields, range_problem, suggest, type_problem, with_origins
from kamim_paper.sections.params import ParamsError, joined, section_defaults

# Names IPython puts into every namespace.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
# The only kinds of value a papermill parameter can have.
_PARAMETER_TYPES = (str, int, float, bool, list, tuple, dict, type(None))


def _user_names(namespace: dict) -> set[str]:
    return {name for name, value in namespace.items()
            if not name.startswith("_") and name not in _IPYTHON_NAMES and isinstance(value, _PARAMETER_TYPES)}


def notebook_parameters(namespace: dict, schema: type, origins: dict[str, str] | None = None):
    """Build the ``schema`` dataclass from a notebook's globals, reporting every problem at once.

    The keys go through the checks of :mod:`kamim_lib.config.checks` that the training configuration uses (type,
    choices with a close match, bounds, distinct lists). A parameter that fails them is put back to its default so
    that the schema's invariants can still be checked on the rest; an invariant problem that names such a parameter
    is left out (its own problem is already reported).

    Args:
        namespace: the notebook's ``globals()`` right after the parameters (and injected) cells, or any mapping of
            parameter values.
        schema: a dataclass whose fields are the notebook's parameters (``kamim_paper.sections.params``; a plain
            dataclass gets the type checks only).
        origins: where each value came from (``kamim reproduce`` knows: the profile file and block, or --set),
            appended to every problem that names the parameter.

    Raises:
        ValueError: naming every unknown parameter (with a close match), every missing one, every one of the wrong
            type or out of range, and every invariant the values break; one problem per line after the first.
    """
    fields = config_fields(schema)
    defaults = section_defaults(schema)
    problems = []
    unknown = sorted(_user_names(namespace) - set(fields))
    if unknown:
        named = ", ".join(f"'{name}'{suggest(name, fields)}" for name in unknown)
        problems.append(f"unknown notebook parameter(s): {named}. This notebook's parameters are: "
                        f"{', '.join(fields)}.")
    values, reverted, checkable = {}, set(), True
    for name, (field, annotation) in fields.items():
        if name not in namespace:
            problem = f"parameter '{name}' is missing: the parameters cell must define it."
        else:
            value, problem = type_problem(name, annotation, namespace[name])
            if problem is None:
                problem = range_problem(name, field, annotation, value)
            if problem is None:
                values[name] = value
                continue
        problems.append(problem)
        # The schema's own checks still run on the other parameters, with this one at its default.
        reverted.add(name)
        if name in defaults:
            values[name] = defaults[name]
        else:
            checkable = False
    result = None
    if checkable:
        try:
            result = schema(**values)
        except ParamsError as error:
            problems += [problem for problem in error.problems
                         if not set(MENTIONED_KEY.findall(problem)) & reverted]
        except ValueError as error:  # a plain dataclass's own __post_init__
            problems.append(str(error))
    if problems:
        raise ValueError(joined([with_origins(problem, origins or {}, fields) for problem in problems]))
    return result

