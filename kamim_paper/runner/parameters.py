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

    Args:
        namespace: the notebook's ``globals()`` right after the parameters (and injected) cells.
        schema: a dataclass whose fields are the notebook's parameters; its ``__post_init__`` may check
            invariants and raise ValueError.

    Raises:
        ValueError: naming an unknown parameter (with a close match), a missing one, or one of the wrong type.
    """
    fields = {field.name: field for field in dataclasses.fields(schema)}
    hints = typing.get_type_hints(schema)
    unknown = sorted(_user_names(namespace) - set(fields))
    if unknown:
        hints_text = []
        for name in unknown:
            close = difflib.get_close_matches(name, fields, n=1)
            hints_text.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ValueError(f"unknown notebook parameter(s): {', '.join(hints_text)}. This notebook's parameters are: "
                         f"{', '.join(fields)}.")
    values = {}
    for name in fields:
        if name not in namespace:
            raise ValueError(f"parameter '{name}' is missing: the parameters cell must define it.")
        value = namespace[name]
        if not _matches(value, hints[name]):
            raise ValueError(f"parameter '{name}' must be of type {hints[name]}, got {value!r} "
                             f"({type(value).__name__}).")
        values[name] = value
    return schema(**values)
