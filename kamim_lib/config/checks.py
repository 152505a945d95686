"""The checks every declared key goes through, whichever frozen dataclass declares it.

A key is a dataclass field made with :func:`kamim_lib.plugins.options.param`: its type annotation, ``choices``,
``minimum`` and ``maximum`` are all the information the checks need. The training configurations
(:mod:`kamim_lib.config.schema`) and the companion's notebook parameters (``kamim_paper.sections.params``) both go
through this module, so a value is typed, ranged and spelled the same way whichever door it enters by, and each
problem is one line that names the key, the allowed values (with a close match) and, where known, where the value
came from.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing

from kamim_lib.config.coerce import CoercionError, coerce_value, type_name

# A ``key=`` or a leading ``key:`` in a problem line: the keys that problem is about.
MENTIONED_KEY = re.compile(r"(?:^|[\s(,])([a-z_][a-z0-9_]*)(?==|: )")


class ConfigError(ValueError):
    """Invalid configuration. ``problems`` lists one line per offending key; the message joins them."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        where = f" in {source}" if source else ""
        if len(self.problems) == 1:
            super().__init__(f"invalid configuration{where}: {self.problems[0]}")
        else:
            super().__init__(f"invalid configuration{where}:\n  - " + "\n  - ".join(self.problems))


def suggest(name: str, known) -> str:
    """' (did you mean 'x'?)' for the closest known name, or ''."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def config_fields(cls: type) -> dict[str, tuple[dataclasses.Field, typing.Any]]:
    """``{key: (field, resolved type)}`` of a dataclass of declared keys, in declaration order."""
    hints = typing.get_type_hints(cls)
    return {field.name: (field, hints[field.name]) for field in dataclasses.fields(cls)}


def allowed_choices(field: dataclasses.Field) -> tuple | None:
    """The field's allowed values: its ``choices`` (a callable is asked now: registries can grow after import)."""
    choices = field.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def _is_sequence_type(annotation) -> bool:
    """Whether the annotation is list[...] / tuple[...] (optionally | None): ranges then apply to each item."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_sequence_type(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return typing.get_origin(annotation) in (list, tuple) or annotation in (list, tuple)


def _bound_problem(name: str, value, metadata: dict) -> str | None:
    """``name=value must be > 0`` when a number breaks the field's minimum/maximum (NaN breaks every bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    for bound, relation, exclusive_relation, below in (("minimum", ">=", ">", True), ("maximum", "<=", "<", False)):
        limit = metadata.get(bound)
        if limit is None:
            continue
        exclusive = metadata.get(f"exclusive_{bound}")
        broken = value != value or ((value <= limit if exclusive else value < limit) if below
                                    else (value >= limit if exclusive else value > limit))
        if broken:
            return f"{name}={value!r} must be {exclusive_relation if exclusive else relation} {limit}"
    return None


def range_problem(name: str, field: dataclasses.Field, annotation, value) -> str | None:
    """The field's choices and bounds applied to ``value`` (to each item of a list-typed key), or None.
    None passes: whether a key may be none is its type's business."""
    if value is None:
        return None
    if _is_sequence_type(annotation) and isinstance(value, (list, tuple)):
        if field.metadata.get("distinct"):
            if not value:
                return f"{name}=[] is empty; give at least one value"
            repeated = sorted({str(item) for item in value if list(value).count(item) > 1})
            if repeated:
                return f"{name}={list(value)!r} lists {', '.join(repeated)} more than once; give each value once"
        named_items = [(f"{name}: item", item) for item in value]
    else:
        named_items = [(name, value)]
    choices = allowed_choices(field)
    for shown, item in named_items:
        if choices is not None and item not in choices:
            return (f"{shown}={item!r} is not allowed; choose one of {', '.join(map(str, choices))}"
                    f"{suggest(str(item), choices)}")
        problem = _bound_problem(shown, item, field.metadata)
        if problem is not None:
            return problem
    return None


def type_problem(name: str, annotation, value) -> tuple[typing.Any, str | None]:
    """``(value in the key's canonical type, None)``, or ``(value, why it cannot be one)``."""
    try:
        return coerce_value(value, annotation), None
    except CoercionError as error:
        return value, f"{name}: {error} (type {type_name(annotation)})"


def type_problems(instance) -> list[str]:
    """Every key whose value does not have its declared type; the others are stored in their canonical form
    (int -> float, list -> tuple: so that equal values serialise equally)."""
    problems = []
    for name, (_, annotation) in config_fields(type(instance)).items():
        value = getattr(instance, name)
        coerced, problem = type_problem(name, annotation, value)
        if problem is not None:
            problems.append(problem)
        elif coerced != value or type(coerced) is not type(value):
            object.__setattr__(instance, name, coerced)
    return problems


def range_problems(instance) -> list[str]:
    """Every key whose value is not among its choices or outside its bounds (call after :func:`type_problems`)."""
    problems = []
    for name, (field, annotation) in config_fields(type(instance)).items():
        problem = range_problem(name, field, annotation, getattr(instance, name))
        if problem is not None:
            problems.append(problem)
    return problems


def with_origins(problem: str, origins: dict, known) -> str:
    """``problem`` followed by where each key it names got its value (keys without a recorded origin: none)."""
    named = [key for key in dict.fromkeys(MENTIONED_KEY.findall(problem)) if key in known and key in origins]
    if not named:
        return problem
    if len(named) == 1:
        return f"{problem} [from {origins[named[0]]}]"
    return f"{problem} [" + "; ".join(f"{key} from {origins[key]}" for key in named) + "]"
