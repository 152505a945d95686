"""Type checks and conversions for configuration values.

Values come from three places: YAML files and Python dicts (already typed: ``1e-3`` may arrive as the string
"1e-3" because YAML 1.1 wants a dot in floats), and ``--set key=value`` (always text). Both paths end in
:func:`coerce_value`, which accepts a value only when its meaning is unambiguous: ``"true"`` is a bool only when it
comes from the command line, never a truthy string in a file (the original parsed ``type=bool`` flags that way).
"""
from __future__ import annotations

import types
import typing

import yaml

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_NONE = ("none", "null", "~", "")


def _optional_inner(annotation):
    """``X`` for ``X | None``, else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0]
    return None


def type_name(annotation) -> str:
    """Human-readable type: ``int``, ``float or none``, ``[float, float]``, ``mapping``."""
    inner = _optional_inner(annotation)
    if inner is not None:
        return f"{type_name(inner)} or none"
    origin = typing.get_origin(annotation)
    if origin is list:
        return f"list of {type_name(typing.get_args(annotation)[0])}"
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {type_name(args[0])}"
        return "[" + ", ".join(type_name(arg) for arg in args) + "]"
    if origin is dict or annotation is dict:
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


class CoercionError(ValueError):
    """A value that cannot be read as the key's type; the message says what was expected."""


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """One line for a YAML syntax error: what is wrong and where (1-based line and column)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def _load_yaml_text(text: str, expected: str):
    """``yaml.safe_load(text)``, with a syntax error turned into a :class:`CoercionError`."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CoercionError(f"expected {expected} in YAML flow syntax, got {text!r} "
                            f"({describe_yaml_error(error)})") from None


def _sequence(value, from_text: bool, described: str) -> list | tuple:
    """``value`` as a list or tuple (command-line text parsed as a YAML flow list, brackets optional), or raise
    :class:`CoercionError` saying ``expected <described>``."""
    if from_text and isinstance(value, str):
        text = value.strip()
        value = _load_yaml_text(text if text.startswith("[") else f"[{text}]", described)
    if not isinstance(value, (list, tuple)):
        raise CoercionError(f"expected {described}, got {value!r}")
    return value


def coerce_value(value, annotation, *, from_text: bool = False):
    """Return ``value`` converted to ``annotation`` or raise :class:`CoercionError`.

    Args:
        value: the raw value.
        annotation: the field's resolved type hint (int, float, str, bool, ``X | None``, ``tuple[...]``,
            ``list[X]``, dict).
        from_text: the value is command-line text (``--set key=value``): parse numbers, booleans, ``none``,
            and YAML flow lists/mappings such as ``[0.9, 0.95]`` or ``{image_size: 64}``.
    """
    inner = _optional_inner(annotation)
    if inner is not None:
        if value is None or (from_text and isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        return coerce_value(value, inner, from_text=from_text)
    expected = type_name(annotation)
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise CoercionError(f"expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_text and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise CoercionError(f"expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # "1e-3" from YAML 1.1 or from the command line
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise CoercionError(f"expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise CoercionError(f"expected a string, got {value!r}")
    if origin is tuple:
        value = _sequence(value, from_text, f"a list {expected}")
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            item_types = [args[0]] * len(value)
        else:
            item_types = list(args)
            if len(value) != len(item_types):
                raise CoercionError(f"expected {len(item_types)} values {expected}, got {list(value)!r}")
        return tuple(coerce_value(item, item_type, from_text=from_text and isinstance(item, str))
                     for item, item_type in zip(value, item_types))
    if origin is list:
        value = _sequence(value, from_text, f"a {expected}")
        item_type = typing.get_args(annotation)[0]
        return [coerce_value(item, item_type, from_text=from_text and isinstance(item, str)) for item in value]
    if origin is dict or annotation is dict:
        if from_text and isinstance(value, str):
            value = _load_yaml_text(value, "a mapping such as {image_size: 64}") if value.strip() else {}
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise CoercionError(f"expected a mapping with string keys, got {value!r}")
        return dict(value)
    raise TypeError(f"configuration fields of type {annotation!r} are not supported")
