"""Declaring configuration keys: a dataclass field plus the metadata that drives validation and ``--help``.

It lives here, outside :mod:`kamim_lib.config`, so that plug-ins can declare their options without importing the
configuration they are composed into (which imports the plug-in registries).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable


def param(default: Any, help: str, *, choices: tuple | Callable[[], Iterable] | None = None, identity: bool = True,
          minimum: float | None = None, exclusive_minimum: bool = False, maximum: float | None = None,
          exclusive_maximum: bool = False, distinct: bool = False) -> Any:
    """A configuration key.

    Args:
        default: default value (lists/dicts are copied per instance).
        help: one sentence for ``--help`` and the docs: what it does, with the unit.
        choices: the allowed values, when the key is an enumeration (of each item, for a list-typed key); a
            callable returning them for a registry that plug-ins can extend after import.
        identity: whether the key changes what is trained. Keys with ``identity=False`` (output folder, worker
            count, progress bars, ...) are left out of the run id, so changing them resumes the same run.
        minimum: smallest allowed value for numbers (of each item, for a list-typed key).
        exclusive_minimum: the value must be strictly greater than ``minimum``.
        maximum / exclusive_maximum: the same from above.
        distinct: for a list-typed key: it must be non-empty and name no value twice.
    """
    metadata = {"help": help, "choices": choices, "identity": identity, "minimum": minimum,
                "exclusive_minimum": exclusive_minimum, "maximum": maximum, "exclusive_maximum": exclusive_maximum,
                "distinct": distinct}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)
