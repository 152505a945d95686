"""Training configuration: frozen dataclasses per command, loaded from YAML/dicts with ``key=value`` overrides.

>>> from kamim_lib.config import load_config, config_to_dict, run_dir
>>> cfg = load_config("params/train/smoke.yaml", ["method=simmim", "epochs=2"], section="pretrain")
>>> cfg.lr, run_dir(cfg)
>>> print(describe_config("linprobe"))      # every key, its type, default and meaning

Every problem (unknown key with a close match, wrong type, broken invariant such as ``img_size %
mask_patch_size``) is reported in one :class:`ConfigError` (a ``ValueError``) that names the key and the allowed
values.
"""
from kamim_lib.config.checks import ConfigError, config_fields, range_problem, suggest, type_problem, with_origins
from kamim_lib.config.describe import describe_config
from kamim_lib.config.identity import config_hash, config_to_dict, run_dir, run_id
from kamim_lib.config.loading import (SHARED_WITH_PRETRAIN, config_from_dict, is_scratch, load_config, parse_overrides,
                                      split_override)
from kamim_lib.config.schema import (DEVICES, FINETUNE_CROPS, SCRATCH, SECTIONS, XLA_MODES,
                                     FinetuneConfig, LinprobeConfig, PretrainConfig, TrainConfig,
                                     inactive_option_keys, model_patch_size)

__all__ = [
    "ConfigError", "DEVICES", "FINETUNE_CROPS", "FinetuneConfig", "LinprobeConfig", "PretrainConfig",
    "SCRATCH", "SECTIONS", "SHARED_WITH_PRETRAIN", "TrainConfig", "XLA_MODES", "config_fields", "config_from_dict",
    "config_hash", "config_to_dict", "describe_config", "inactive_option_keys", "is_scratch", "load_config", "model_patch_size",
    "parse_overrides", "range_problem", "split_override", "run_dir", "run_id", "suggest", "type_problem",
    "with_origins",
]
