"""Building a configuration from a YAML file or a dict, plus ``key=value`` overrides.

A configuration file is one flat mapping; keys may also be grouped per command, and the top level applies to every
command that has the key::

    section: pretrain          # optional: the command this file is for when none is named
    model: vit_nano            # top level: every command that has the key
    dataset: digits
    pretrain:                  # only `kamim pretrain`
      method: kamim
      lr: 1.0e-3
    finetune:
      lr: 5.0e-3

Precedence, lowest first: the dataclass defaults, the top level, the command's block, the overrides.

Fine-tuning and linear probing start from ``pretrained``; when it is unset they use the pretrain run that the same
source defines, so ``kamim linprobe --config X --set method=simmim`` probes what ``kamim pretrain --config X --set
method=simmim`` trained. Overrides reach that derived pretrain configuration when they name a pretrain-only key
(``method``, ``detector``, ``temperature``, ...), one of :data:`SHARED_WITH_PRETRAIN`, or carry the prefix
``pretrain.`` (``--set pretrain.dataset=cifar10``).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from kamim_lib.config.coerce import CoercionError, coerce_value, describe_yaml_error, type_name
from kamim_lib.config.identity import run_dir
from kamim_lib.config.checks import MENTIONED_KEY, ConfigError, config_fields, suggest, with_origins
from kamim_lib.config.schema import SCRATCH, SECTIONS, TrainConfig
from kamim_lib.plugins import check_plugins

# Keys of a fine-tune/probe override that also apply to the pretrain run it derives its checkpoint from: the
# backbone must be the same network, and the run lives under the same output folder.
SHARED_WITH_PRETRAIN = ("model", "img_size", "out_dir")
PRETRAIN_PREFIX = "pretrain."
# Where a value came from when it was given as ``key=value`` text (the command line, papermill lists).
COMMAND_LINE = "--set"


def _read_source(source) -> tuple[dict, str]:
    """The raw mapping of a source and a name for messages.

    Raises:
        FileNotFoundError: no file at the path.
        ConfigError: the path is a folder, cannot be read, is not valid YAML or not a mapping.
    """
    if source is None:
        return {}, "defaults"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise ConfigError([f"{str(path)!r} is a folder; give a configuration file inside it, e.g. "
                               "params/train/smoke.yaml"], str(path))
        if not path.is_file():
            raise FileNotFoundError(f"configuration file {str(path)!r} not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError([f"not valid YAML: {describe_yaml_error(error)}; fix the file"], str(path)) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError([f"cannot read the file: {getattr(error, 'strerror', None) or error}"],
                              str(path)) from None
        if not isinstance(data, dict):
            raise ConfigError([f"the file must hold a YAML mapping of keys, got {type(data).__name__}"], str(path))
        return data, str(path)
    if isinstance(source, Mapping):
        return dict(source), "dict"
    raise ValueError(f"source must be a YAML path, a dict, a TrainConfig or None, got {type(source).__name__}")


def _all_keys() -> set[str]:
    return {key for cls in SECTIONS.values() for key in config_fields(cls)}


def _layered_values(raw: dict, section: str, where: str, origins: dict) -> tuple[dict, list[str]]:
    """Top-level keys known to ``section``, then its block; unknown keys anywhere are reported as problems.

    ``origins`` receives, for every value taken, where it came from (``where``, or ``where`` plus the block).
    """
    problems = []
    known_anywhere = _all_keys()
    top = {}
    for key, value in raw.items():
        if key == "section" or key in SECTIONS:
            continue
        if key not in known_anywhere:
            problems.append(f"unknown key {key!r}{suggest(key, known_anywhere | set(SECTIONS))}")
        else:
            top[key] = value
    for block_name in SECTIONS:
        block = raw.get(block_name)
        if block is None:
            continue
        if not isinstance(block, dict):
            problems.append(f"{block_name!r} must be a mapping of {block_name} keys, got {type(block).__name__}")
            continue
        block_keys = config_fields(SECTIONS[block_name])
        for key in block:
            if key not in block_keys:
                problems.append(f"unknown key {block_name}.{key}{suggest(key, block_keys)}; "
                                f"see `kamim {block_name} --help`")
    fields = config_fields(SECTIONS[section])
    values = {key: value for key, value in top.items() if key in fields}
    origins.update({key: where for key in values})
    block = raw.get(section)
    if isinstance(block, dict):
        known_block = {key: value for key, value in block.items() if key in fields}  # others are problems above
        values.update(known_block)
        origins.update({key: f"{where}, {section}: block" for key in known_block})
    return values, problems


def split_override(entry, *, where: str = COMMAND_LINE) -> tuple[str | None, str, str]:
    """The one override form, ``[<command>.]key=value``: ``"linprobe.lr=0.1"`` -> ("linprobe", "lr", "0.1"),
    ``"epochs=2"`` -> (None, "epochs", "2"). The value stays text (typed later by the key's own type).

    Every override in the project is read here: ``--set`` of the training commands, ``train_overrides`` of the
    notebooks and ``kamim reproduce --set``.

    Raises:
        ConfigError: not ``key=value``, an empty key, or a prefix that is not a command (pretrain, finetune,
            linprobe), naming ``where`` the entry came from.
    """
    if not isinstance(entry, str) or "=" not in entry:
        raise ConfigError([f"override {entry!r} must look like key=value or <command>.key=value (e.g. lr=1e-3, "
                           f"linprobe.lr=0.1) [from {where}]"])
    key, value = entry.split("=", 1)
    command, dot, rest = key.strip().partition(".")
    if not dot:
        command, rest = None, key.strip()
    elif command not in SECTIONS:
        raise ConfigError([f"override {entry!r} names command {command!r}; the prefix must be one of "
                           f"{', '.join(SECTIONS)}{suggest(command, SECTIONS)} [from {where}]"])
    if not rest:
        raise ConfigError([f"override {entry!r} has no key before '=' [from {where}]"])
    return command, rest, value


def parse_overrides(overrides) -> list[tuple[str, object, bool]]:
    """``["lr=1e-3", ...]`` or ``{"lr": 1e-3}`` -> ``[(key, value, is_text)]`` (see :func:`split_override`)."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [(str(key), value, False) for key, value in overrides.items()]
    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise ValueError("overrides must be a dict or a list of 'key=value' strings, got "
                         f"{type(overrides).__name__}")
    parsed, malformed = [], []
    for item in overrides:
        try:
            command, key, value = split_override(item)
        except ConfigError as error:
            malformed += error.problems
            continue
        parsed.append((f"{command}.{key}" if command else key, value, True))
    if malformed:
        raise ConfigError(malformed)
    return parsed


def _coerce_into(values: dict, key: str, value, is_text: bool, cls: type[TrainConfig], problems: list,
                 origin: str | None = None) -> bool:
    """Store ``value`` typed as ``key``'s type; on failure add a problem naming the key and ``origin``."""
    annotation = config_fields(cls)[key][1]
    try:
        values[key] = coerce_value(value, annotation, from_text=is_text)
    except CoercionError as error:
        problems.append(f"{key}: {error} (type {type_name(annotation)})" + (f" [from {origin}]" if origin else ""))
        return False
    return True


def _construct_problems(cls: type[TrainConfig], values: dict, origins: dict,
                        skip_keys: set = frozenset()) -> tuple[TrainConfig | None, list[str]]:
    """Build ``cls`` from ``values``; return it, or None and every type/range/invariant problem.

    Problems that name a key of ``skip_keys`` (already reported, replaced by its default here) are left out so that
    one mistake is not reported twice.
    """
    problems: list[str] = []
    typed = {}
    failed = set(skip_keys)
    for key, value in values.items():
        if key not in skip_keys and not _coerce_into(typed, key, value, False, cls, problems, origins.get(key)):
            failed.add(key)
    try:
        config = cls(**typed)
    except ConfigError as error:
        known = set(config_fields(cls))
        problems += [with_origins(problem, origins, known) for problem in error.problems
                     if not set(MENTIONED_KEY.findall(problem)) & failed]
        return None, problems
    return (None if problems else config), problems


def _construct(cls: type[TrainConfig], values: dict, where: str, origins: dict | None = None) -> TrainConfig:
    config, problems = _construct_problems(cls, values, origins or {})
    if problems:
        raise ConfigError(problems, where)
    return config


def load_config(source=None, overrides=None, *, section: str | None = None) -> TrainConfig:
    """Build and validate the configuration of one command.

    Args:
        source: a YAML file path, a dict in the same format (papermill parameters work as-is), an existing
            config (overrides are applied on top), or None for the defaults.
        overrides: ``["key=value", ...]`` (text, typed by the key: ``lr=1e-3``, ``betas=[0.9,0.95]``,
            ``data_root=none``, ``final_norm=false``) or a dict of typed values.
        section: ``"pretrain"``, ``"finetune"`` or ``"linprobe"``; default: the source's ``section`` key, else
            ``"pretrain"``.

    Returns:
        A frozen :class:`PretrainConfig`, :class:`FinetuneConfig` or :class:`LinprobeConfig`. For fine-tuning
        and probing, ``pretrained`` is resolved (to the derived pretrain run directory when it was unset).

    Raises:
        ConfigError: (a ValueError) listing every unknown key (with a close match), wrong type or broken
            invariant, each with the key and the allowed values.
        FileNotFoundError: ``source`` names a missing file.
        PluginImportError: (a ValueError) a module named in ``KAMIM_PLUGINS`` could not be imported.
    """
    check_plugins()
    if isinstance(source, TrainConfig):
        raw, where = {key: getattr(source, key) for key in config_fields(type(source))}, f"{source.section} config"
        section = section or source.section
        if section != source.section:
            raise ValueError(f"section={section!r} differs from the given {source.section} config")
    else:
        raw, where = _read_source(source)
    section = section or raw.get("section") or "pretrain"
    if section not in SECTIONS:
        raise ConfigError([f"section={section!r} is not a command; choose one of {', '.join(SECTIONS)}"
                           f"{suggest(str(section), SECTIONS)}"], where)
    cls = SECTIONS[section]
    fields = config_fields(cls)
    pretrain_fields = config_fields(SECTIONS["pretrain"])
    origins: dict[str, str] = {}
    values, problems = _layered_values(raw, section, "the given dict" if where == "dict" else where, origins)
    own: dict = {}
    for_pretrain: dict = {}  # overrides routed to the derived pretrain configuration (fine-tune / probe only)
    bad_keys: set[str] = set()
    for key, value, is_text in parse_overrides(overrides):
        origin = COMMAND_LINE if is_text else "overrides"
        if section != "pretrain" and key.startswith(PRETRAIN_PREFIX):
            inner = key[len(PRETRAIN_PREFIX):]
            if inner not in pretrain_fields:
                problems.append(f"unknown pretrain key {inner!r} in override {key!r}{suggest(inner, pretrain_fields)}"
                                f" [from {origin}]")
            else:
                _coerce_into(for_pretrain, inner, value, is_text, SECTIONS["pretrain"], problems, origin)
        elif key in fields:
            origins[key] = origin
            if not _coerce_into(own, key, value, is_text, cls, problems, origin):
                bad_keys.add(key)
            if section != "pretrain" and key in SHARED_WITH_PRETRAIN:
                for_pretrain[key] = own.get(key, value)
        elif section != "pretrain" and key in pretrain_fields:
            _coerce_into(for_pretrain, key, value, is_text, SECTIONS["pretrain"], problems, origin)
        else:
            problems.append(f"unknown key {key!r} for `kamim {section}`{suggest(key, fields)}; "
                            f"see `kamim {section} --help` [from {origin}]")
    values.update(own)
    # Every problem at once: also check the values that were fine, with the bad ones left at their defaults.
    config, value_problems = _construct_problems(cls, {key: value for key, value in values.items()
                                                       if key not in bad_keys}, origins, bad_keys)
    problems += value_problems
    if problems:
        # Each line says where its value came from; the header names the file only when the file itself is bad.
        raise ConfigError(problems)
    if section == "pretrain":
        return config
    routed_only = sorted(set(for_pretrain) - set(fields))
    if config.pretrained is not None:
        if routed_only:
            raise ConfigError([f"{', '.join(routed_only)} only select the pretrain run when pretrained is unset; "
                               f"pretrained={config.pretrained!r} is given"], where)
        return config
    if isinstance(source, TrainConfig):
        raise ConfigError(["pretrained is unset and a config object carries no pretrain settings; set pretrained "
                           "to a checkpoint, a run directory or 'scratch'"], where)
    pretrain_config = load_config(source, for_pretrain, section="pretrain")
    return _construct(cls, {**values, "pretrained": str(run_dir(pretrain_config))}, None, origins)


def is_scratch(config: TrainConfig) -> bool:
    """True when a fine-tune/probe config starts from random initialisation."""
    return getattr(config, "pretrained", None) == SCRATCH


def config_from_dict(data: dict) -> TrainConfig:
    """Inverse of :func:`~kamim_lib.config.identity.config_to_dict` (validates again; ``section`` picks the class)."""
    return load_config({key: value for key, value in data.items()}, section=data.get("section"))
