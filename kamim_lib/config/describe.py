"""Human-readable documentation of the configuration keys, generated from the dataclass field metadata."""
from __future__ import annotations

import textwrap

from kamim_lib.config.coerce import type_name
from kamim_lib.config.checks import allowed_choices, config_fields
from kamim_lib.config.schema import SECTIONS


def _format_default(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return str(value)


def describe_config(section: str = "pretrain", *, width: int = 100) -> str:
    """One paragraph per key of ``section``: name, type, default, allowed values and what it does.

    Used verbatim by ``kamim <section> --help``; also handy in a notebook (``print(describe_config())``).
    """
    if section not in SECTIONS:
        raise ValueError(f"section={section!r} is not a command; choose one of {', '.join(SECTIONS)}.")
    defaults = SECTIONS[section]()
    lines = []
    for key, (field, annotation) in config_fields(SECTIONS[section]).items():
        head = f"{key} ({type_name(annotation)}, default {_format_default(getattr(defaults, key))})"
        text = field.metadata.get("help", "")
        choices = allowed_choices(field)
        if choices:
            text += f". Choices: {', '.join(map(str, choices))}"
        if not field.metadata.get("identity", True):
            text += ". Not part of the run id"
        lines.append(head)
        lines.extend(textwrap.wrap(text, width=width, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)
