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

from .coerce import CoercionError, coerce_value, type_name
from .schema import SCRATCH, SECTIONS, ConfigError, TrainConfig, config_fields, suggest

# Keys of a fine-tune/probe override that also apply to the pretrain run it derives its checkpoint from: the
# backbone must be the same network, and the run lives under the same output folder.
SHARED_WITH_PRETRAIN = ("model", "img_size", "out_dir")
PRETRAIN_PREFIX = "pretrain."


def _read_source(source) -> tuple[dict, str]:
    """The raw mapping of a source and a name for messages."""
    if source is None:
        return {}, "defaults"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"configuration file {str(path)!r} not found")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError([f"the file must hold a YAML mapping of keys, got {type(data).__name__}"], str(path))
        return data, str(path)
    if isinstance(source, Mapping):
        return dict(source), "dict"
    raise ValueError(f"source must be a YAML path, a dict, a TrainConfig or None, got {type(source).__name__}")


def _all_keys() -> set[str]:
    return {key for cls in SECTIONS.values() for key in config_fields(cls)}


def _layered_values(raw: dict, section: str) -> tuple[dict, list[str]]:
    """Top-level keys known to ``section``, then its block; unknown keys anywhere are reported as problems."""
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
    block = raw.get(section)
    values.update(block if isinstance(block, dict) else {})
    return values, problems


def parse_overrides(overrides) -> list[tuple[str, object, bool]]:
    """``["lr=1e-3", ...]`` or ``{"lr": 1e-3}`` -> ``[(key, value, is_text)]``."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [(str(key), value, False) for key, value in overrides.items()]
    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise ValueError("overrides must be a dict or a list of 'key=value' strings, got "
                         f"{type(overrides).__name__}")
    parsed = []
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError([f"override {item!r} must look like key=value (e.g. lr=1e-3)"])
        key, value = item.split("=", 1)
        parsed.append((key.strip(), value, True))
    return parsed


def _coerce_into(values: dict, key: str, value, is_text: bool, cls: type[TrainConfig], problems: list) -> None:
    annotation = config_fields(cls)[key][1]
    try:
        values[key] = coerce_value(value, annotation, from_text=is_text)
    except CoercionError as error:
        problems.append(f"{key}: {error} (type {type_name(annotation)})")


def _construct(cls: type[TrainConfig], values: dict, where: str) -> TrainConfig:
    problems = []
    typed = {}
    for key, value in values.items():
        _coerce_into(typed, key, value, False, cls, problems)
    if problems:
        raise ConfigError(problems, where)
    try:
        return cls(**typed)
    except ConfigError as error:
        raise ConfigError(error.problems, where) from None


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
    """
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
    values, problems = _layered_values(raw, section)
    own: dict = {}
    for_pretrain: dict = {}  # overrides routed to the derived pretrain configuration (fine-tune / probe only)
    for key, value, is_text in parse_overrides(overrides):
        if section != "pretrain" and key.startswith(PRETRAIN_PREFIX):
            inner = key[len(PRETRAIN_PREFIX):]
            if inner not in pretrain_fields:
                problems.append(f"unknown pretrain key {inner!r} in override {key!r}{suggest(inner, pretrain_fields)}")
            else:
                _coerce_into(for_pretrain, inner, value, is_text, SECTIONS["pretrain"], problems)
        elif key in fields:
            _coerce_into(own, key, value, is_text, cls, problems)
            if section != "pretrain" and key in SHARED_WITH_PRETRAIN:
                for_pretrain[key] = own.get(key, value)
        elif section != "pretrain" and key in pretrain_fields:
            _coerce_into(for_pretrain, key, value, is_text, SECTIONS["pretrain"], problems)
        else:
            problems.append(f"unknown key {key!r} for `kamim {section}`{suggest(key, fields)}; "
                            f"see `kamim {section} --help`")
    if problems:
        raise ConfigError(problems, where)
    values.update(own)
    config = _construct(cls, values, where)
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
    from .identity import run_dir  # here: identity imports this module's siblings only

    return _construct(cls, {**values, "pretrained": str(run_dir(pretrain_config))}, where)


def is_scratch(config: TrainConfig) -> bool:
    """True when a fine-tune/probe config starts from random initialisation."""
    return getattr(config, "pretrained", None) == SCRATCH
