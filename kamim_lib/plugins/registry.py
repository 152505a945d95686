"""A registry of named plug-in classes, each carrying a frozen ``Options`` dataclass of configuration keys.

Methods and masking strategies are plug-ins: one file each, registered by name with a decorator. Their ``Options``
fields are flat configuration keys declared with :func:`kamim_lib.plugins.options.param`; the pretraining
configuration is composed from the generic keys plus every registered plug-in's options, so ``--set
temperature=0.5`` and papermill parameters keep working, while a run id covers only the options of the plug-ins
that run uses (:mod:`kamim_lib.config.identity`).

Built-in plug-ins are the modules of the registry's package (every ``<package>/<name>.py``: adding a plug-in is
adding a file), imported lazily on first use so that the configuration can ask for them without an import cycle;
a project of your own registers more by naming its modules in the environment variable ``KAMIM_PLUGINS``
(comma-separated), which are imported before the configuration is composed. A module listed there that cannot be
imported (missing, raising, lacking a dependency) does not break ``import kamim_lib`` or ``kamim --help``: it is
recorded, and loading a configuration then fails with one line per broken module (:func:`check_plugins`).
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
import pkgutil
from typing import Iterable

PLUGINS_ENV = "KAMIM_PLUGINS"
# KAMIM_PLUGINS modules that failed to import: {module: "ErrorType: first line of its message"}.
_BROKEN_PLUGINS: dict[str, str] = {}


class PluginImportError(ValueError):
    """A module named in ``KAMIM_PLUGINS`` cannot be imported (the message names it and its error)."""


def check_plugins() -> None:
    """Raise :class:`PluginImportError` when a ``KAMIM_PLUGINS`` module failed to import (one line per module)."""
    if _BROKEN_PLUGINS:
        raise PluginImportError("; ".join(
            f"{PLUGINS_ENV} module {module!r} cannot be imported ({reason})" for module, reason in
            _BROKEN_PLUGINS.items()) + f"; fix it (or its dependencies) or remove it from {PLUGINS_ENV}")


def _import_plugin(module: str) -> None:
    """Import a user's plug-in module; a failure is recorded for :func:`check_plugins` instead of raised here,
    since the configuration is composed at import time and every command (``--help`` too) would break."""
    try:
        importlib.import_module(module)
    except Exception as error:  # a user's module may raise anything while it is imported
        lines = str(error).strip().splitlines()
        _BROKEN_PLUGINS[module] = f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__
# Modules of a plug-in package that hold the machinery, not plug-ins.
NOT_PLUGINS = ("base", "registry")


def plugin_modules_from_environment() -> list[str]:
    """The module names listed in ``KAMIM_PLUGINS`` (comma-separated)."""
    return [module.strip() for module in os.environ.get(PLUGINS_ENV, "").split(",") if module.strip()]


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
        package: the package whose modules register the built-in plug-ins, imported on first use (modules named
            ``base``, ``registry`` or starting with ``_`` are not plug-ins).
        leading: modules of ``package`` imported first, so that their plug-ins lead the list of names (e.g. SimMIM
            before the rest); the others follow in alphabetical order.
        helpers: modules of ``package`` that are shared code, not plug-ins.
        default: the plug-in a configuration selects when it names none.
    """

    def __init__(self, kind: str, config_key: str, package: str, *, default: str, leading: Iterable[str] = (),
                 helpers: Iterable[str] = ()):
        self.kind = kind
        self.default = default
        self.config_key = config_key
        self._package = package
        self._leading = tuple(leading)
        self._skip = NOT_PLUGINS + tuple(helpers)
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

    def unregister(self, name: str) -> None:
        """Remove plug-in ``name`` (a test's temporary plug-in; built-ins come back only with a new process)."""
        self._classes.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self.builtin_modules():
            importlib.import_module(module)
        for module in plugin_modules_from_environment():
            _import_plugin(module)

    def builtin_modules(self) -> tuple[str, ...]:
        """The plug-in modules of the package: the leading ones, then the others alphabetically."""
        package = importlib.import_module(self._package)
        found = sorted(info.name for info in pkgutil.iter_modules(package.__path__)
                       if not info.name.startswith("_") and info.name not in self._skip)
        ordered = [name for name in self._leading if name in found] + [n for n in found if n not in self._leading]
        return tuple(f"{self._package}.{name}" for name in ordered)

    def names(self) -> tuple[str, ...]:
        """Every registered name, built-ins first."""
        self._load()
        return tuple(self._classes)

    def live_names(self) -> "LiveNames":
        """A view of :meth:`names` that stays current (for a config key's ``choices``): plug-ins registered later,
        without options of their own, are accepted too."""
        return LiveNames(self)

    def get(self, name: str) -> type:
        """The class registered as ``name``.

        Raises:
            ValueError: unknown name (the message lists the known ones and the closest match).
        """
        self._load()
        if name not in self._classes:
            check_plugins()  # the plug-in may be missing because its module failed to import
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


class LiveNames:
    """Iterable, ``in``-testable names of a registry, read at each use."""

    def __init__(self, registry: Registry):
        self._registry = registry

    def __iter__(self):
        return iter(self._registry.names())

    def __contains__(self, name) -> bool:
        return name in self._registry.names()

    def __len__(self) -> int:
        return len(self._registry.names())

    def __eq__(self, other) -> bool:
        return isinstance(other, LiveNames) and other._registry is self._registry

    def __hash__(self) -> int:
        return id(self._registry)

    def __repr__(self) -> str:
        return repr(self._registry.names())


def _same_declaration(a: dataclasses.Field, b: dataclasses.Field) -> bool:
    return (a.type == b.type and a.default == b.default and a.default_factory == b.default_factory
            and dict(a.metadata) == dict(b.metadata))


def options_of(cls: type, config) -> object:
    """Build ``cls.Options`` from the matching keys of a configuration object."""
    options = getattr(cls, "Options", NoOptions)
    return options(**{key: getattr(config, key) for key in option_fields(options)})

