"""Validation of a notebook's papermill parameters.

papermill only warns about a parameter the notebook does not declare, and the value is then silently unused.
Each notebook's second cell therefore calls ``notebook_parameters(globals(), SchemaClass)``: at that point the
notebook's namespace holds the parameters cell's names, whatever papermill injected, and imports; any other
plain-data name (papermill can only inject str, numbers, bools, None, lists and dicts) is a mistyped or unknown
parameter and is reported by name.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing

# Names IPython puts into every namespace.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
# The only kinds of value a papermill parameter can have.
_PARAMETER_TYPES = (str, int, float, bool, list, tuple, dict, type(None))


def _matches(value, annotation) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and all(
            _matches(item, typing.get_args(annotation)[0]) for item in value) if typing.get_args(annotation) \
            else isinstance(value, (list, tuple))
    if origin is dict:
        return isinstance(value, dict)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _user_names(namespace: dict) -> set[str]:
    return {name for name, value in namespace.items()
            if not name.startswith("_") and name not in _IPYTHON_NAMES and isinstance(value, _PARAMETER_TYPES)}


def notebook_parameters(namespace: dict, schema: type):
    """Build the ``schema`` dataclass from a notebook's globals, failing on unknown names and wrong types.

    Every problem is reported at once (issue 22: of three bad parameters only the first was named): unknown names,
    missing ones, wrong types, then the schema's own checks (``__post_init__``). Those stop at their first failure,
    so after each one the parameters its message names are put back to their defaults and the checks run again,
    until they pass or a message names no parameter that can still be put back.

    Args:
        namespace: the notebook's ``globals()`` right after the parameters (and injected) cells.
        schema: a dataclass whose fields are the notebook's parameters; its ``__post_init__`` may check
            invariants and raise ValueError.

    Raises:
        ValueError: naming every unknown parameter (with a close match), every missing one, every one of the wrong
            type, and every invariant the values break; one problem per line after the first.
    """
    fields = {field.name: field for field in dataclasses.fields(schema)}
    hints = typing.get_type_hints(schema)
    problems = []
    unknown = sorted(_user_names(namespace) - set(fields))
    if unknown:
        hints_text = []
        for name in unknown:
            close = difflib.get_close_matches(name, fields, n=1)
            hints_text.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        problems.append(f"unknown notebook parameter(s): {', '.join(hints_text)}. This notebook's parameters are: "
                        f"{', '.join(fields)}.")
    defaults = _defaults(schema)
    values, checkable = {}, True
    for name in fields:
        if name not in namespace:
            problems.append(f"parameter '{name}' is missing: the parameters cell must define it.")
        elif not _matches(namespace[name], hints[name]):
            problems.append(f"parameter '{name}' must be of type {hints[name]}, got {namespace[name]!r} "
                            f"({type(namespace[name]).__name__}).")
        else:
            values[name] = namespace[name]
            continue
        # The schema's own checks still run on the other parameters, with this one at its default.
        if name in defaults:
            values[name] = defaults[name]
        else:
            checkable = False
    result = None
    if checkable:
        result, invariant_problems = _checked(schema, values, defaults)
        problems += invariant_problems
    if problems:
        raise ValueError(_joined(problems))
    return result


def _joined(problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems:" + "".join(f"\n    {number}. {problem}"
                                                   for number, problem in enumerate(problems, 1))


def _defaults(schema: type) -> dict:
    """``{field: default}`` of the schema's fields that have one."""
    return {field.name: field.default if field.default is not dataclasses.MISSING else field.default_factory()
            for field in dataclasses.fields(schema)
            if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING}


def _checked(schema: type, values: dict, defaults: dict):
    """``(schema(**values), [])``, or ``(None, [every problem its checks find])``: after each failed check the
    parameters its message names go back to their defaults (only where a default exists) and the checks run again."""
    values, problems, reverted = dict(values), [], set()
    while True:
        try:
            result = schema(**values)
        except ValueError as error:
            message = str(error)
            if message in problems:
                return None, problems
            problems.append(message)
            named = [name for name in values if name not in reverted and name in defaults
                     and values[name] != defaults[name] and re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message)]
            if not named:
                return None, problems
            for name in named:
                values[name] = defaults[name]
                reverted.add(name)
            continue
        return (None if problems else result), problems
