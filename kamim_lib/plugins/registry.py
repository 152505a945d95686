"""A registry of named plug-in classes, each carrying a frozen ``Options`` dataclass of configuration keys.

Methods and masking strategies are plug-ins: one file each, registered by name with a decorator. Their ``Options``
fields are flat configuration keys declared with :func:`kamim_lib.plugins.options.param`; the pretraining
configuration is composed from the generic keys plus every registered plug-in's options, so ``--set
temperature=0.5`` and papermill parameters keep working, while a run id covers only the options of the plug-ins
that run uses (:mod:`kamim_lib.config.identity`).

Built-in plug-ins are imported lazily by module name (``builtin_modules``) so that the configuration can ask for
them without an import cycle; a project of your own registers more by naming its modules in the environment
variable ``KAMIM_PLUGINS`` (comma-separated), which are imported before the configuration is composed.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
from typing import Iterable

PLUGINS_ENV = "KAMIM_PLUGINS"


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoOptions:
    """The options of a plug-in that has none."""


def option_fields(options_class: type) -> dict[str, dataclasses.Field]:
    """``{key: field}`` of an ``Options`` dataclass, in declaration order."""
    return {field.name: field for field in dataclasses.fields(options_class)}


class Registry:
    """Plug-in classes by name.

    Args:
        kind: what is registered, for messages ("method", "masking strategy").
        config_key: the configuration key that selects one ("method", "masking").
        builtin_modules: modules whose import registers the built-in plug-ins, imported on first use.
    """

    def __init__(self, kind: str, config_key: str, builtin_modules: Iterable[str]):
        self.kind = kind
        self.config_key = config_key
        self._builtin_modules = tuple(builtin_modules)
        self._classes: dict[str, type] = {}
        self._loaded = False
        self._frozen_keys: frozenset[str] | None = None

    def register(self, cls: type) -> type:
        """Class decorator: add ``cls`` under ``cls.name``.

        Raises:
            ValueError: no name, a name already taken by another class, or options that the (already composed)
                configuration does not have.
        """
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"a {self.kind} needs a class attribute `name` that is an identifier, got {name!r}")
        existing = self._classes.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"{self.kind} {name!r} is already registered ({existing.__module__}."
                             f"{existing.__qualname__}); choose another name")
        options = getattr(cls, "Options", NoOptions)
        if not (dataclasses.is_dataclass(options) and options.__dataclass_params__.frozen):
            raise ValueError(f"{self.kind} {name!r}: Options must be a frozen dataclass, got {options!r}")
        if self._frozen_keys is not None:
            missing = sorted(set(option_fields(options)) - self._frozen_keys)
            if missing:
                raise ValueError(
                    f"{self.kind} {name!r} declares option(s) {', '.join(missing)} after the configuration was "
                    f"composed; name its module in the environment variable {PLUGINS_ENV} (imported before "
                    "kamim_lib.config) or add it to the built-in list")
        self._classes[name] = cls
        return cls

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        extra = [module.strip() for module in os.environ.get(PLUGINS_ENV, "").split(",") if module.strip()]
        for module in (*self._builtin_modules, *extra):
            importlib.import_module(module)

    def names(self) -> tuple[str, ...]:
        """Every registered name, built-ins first."""
        self._load()
        return tuple(self._classes)

    def get(self, name: str) -> type:
        """The class registered as ``name``.

        Raises:
            ValueError: unknown name (the message lists the known ones and the closest match).
        """
        self._load()
        if name not in self._classes:
            close = difflib.get_close_matches(str(name), self._classes, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{self.config_key}={name!r} is not a known {self.kind}; choose one of "
                             f"{', '.join(self._classes)}{hint}")
        return self._classes[name]

    def option_keys(self, name: str) -> tuple[str, ...]:
        """The configuration keys owned by plug-in ``name``."""
        return tuple(option_fields(getattr(self.get(name), "Options", NoOptions)))

    def all_option_fields(self) -> dict[str, dataclasses.Field]:
        """``{key: field}`` over every registered plug-in; a key shared by several must be declared alike."""
        self._load()
        merged: dict[str, dataclasses.Field] = {}
        for name, cls in self._classes.items():
            for key, field in option_fields(getattr(cls, "Options", NoOptions)).items():
                previous = merged.get(key)
                if previous is not None and not _same_declaration(previous, field):
                    raise ValueError(f"option {key!r} of {self.kind} {name!r} is declared differently elsewhere; "
                                     "share one Options base class or rename it")
                merged[key] = field
        return merged

    def freeze(self, known_keys: Iterable[str]) -> None:
        """Called once the configuration is composed: later plug-ins may only use keys it already has."""
        self._frozen_keys = frozenset(known_keys)


def _same_declaration(a: dataclasses.Field, b: dataclasses.Field) -> bool:
    return (a.type == b.type and a.default == b.default and a.default_factory == b.default_factory
            and dict(a.metadata) == dict(b.metadata))


def options_of(cls: type, config) -> object:
    """Build ``cls.Options`` from the matching keys of a configuration object."""
    options = getattr(cls, "Options", NoOptions)
    return options(**{key: getattr(config, key) for key in option_fields(options)})

