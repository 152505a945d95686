"""Plain-JSON form of a configuration and the run id derived from it.

The run id is ``<prefix>-<hash>``: the prefix is readable (``run_name``, or method-model-dataset, with the masking
strategy when it is not SimMIM's random cells), the hash covers every key whose ``identity`` metadata is true —
for pretraining, of the plug-in options only those of the run's own method and masking strategy — so the same experiment always lands in the same run directory
(and resumes there) while a changed hyperparameter starts a new one. Output folders, device, worker counts and
progress settings are not part of it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from kamim_lib.config.checks import config_fields
from kamim_lib.config.schema import (METHOD_REGISTRY, SCRATCH, TrainConfig, inactive_finetune_keys,
                                     inactive_option_keys)

RUN_HASH_CHARS = 10


def config_to_dict(config: TrainConfig) -> dict:
    """Every key of ``config`` as plain JSON types (tuples become lists), plus ``"section"``."""
    values = {}
    for key in config_fields(type(config)):
        value = getattr(config, key)
        values[key] = list(value) if isinstance(value, tuple) else value
    return {"section": config.section, **values}


def _identity_values(config: TrainConfig) -> dict:
    values = config_to_dict(config)
    unused = inactive_option_keys(config) if config.section == "pretrain" else inactive_finetune_keys(config)
    identity = {key: values[key] for key, (field, _) in config_fields(type(config)).items()
                if field.metadata.get("identity", True) and key not in unused}
    pretrained = identity.get("pretrained")
    if pretrained not in (None, SCRATCH):
        # A pretrain run inside out_dir is named relative to it, so moving out_dir keeps the id.
        try:
            identity["pretrained"] = os.path.relpath(Path(pretrained).resolve(), Path(config.out_dir).resolve())
        except ValueError:  # different drives on Windows
            pass
    identity["section"] = config.section
    return identity


def config_hash(config: TrainConfig) -> str:
    """Hex digest of the identity keys (stable across Python versions and key order)."""
    text = json.dumps(_identity_values(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:RUN_HASH_CHARS]


def _prefix(config: TrainConfig) -> str:
    if config.run_name:
        return config.run_name
    if config.section == "pretrain":
        masking = "" if config.masking == "random" else f"+{config.masking}"
        return f"{config.method}{masking}-{config.model}-{config.dataset}"
    pretrained = config.pretrained or ""
    source = "scratch" if pretrained == SCRATCH else Path(pretrained).name.split("-")[0]
    if source != "scratch" and source.split("+")[0] not in METHOD_REGISTRY.names():
        source = "ckpt"
    return f"{source}-{config.model}-{config.dataset}"


def run_id(config: TrainConfig) -> str:
    """``<prefix>-<hash>``, e.g. ``kamim-vit_nano-digits-3f9c0a1b2d``."""
    return f"{_prefix(config)}-{config_hash(config)}"


def run_dir(config: TrainConfig) -> Path:
    """``out_dir/<section>/<run_id>``."""
    return Path(config.out_dir) / config.section / run_id(config)

