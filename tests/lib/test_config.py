"""Configuration: loading, precedence, type and invariant errors, identity (run id), derived pretrained runs."""
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from kamim_lib.config import (ConfigError, FinetuneConfig, LinprobeConfig, PretrainConfig, config_fields,
                              config_from_dict, config_to_dict, describe_config, load_config, run_dir, run_id)

SMALL = {"model": "vit_nano", "dataset": "digits", "img_size": 64, "mask_patch_size": 16}


def error_text(source=None, overrides=None, section="pretrain") -> str:
    with pytest.raises(ConfigError) as info:
        load_config(source, overrides, section=section)
    return str(info.value)


def test_defaults_are_the_original_protocol():
    config = load_config()
    assert isinstance(config, PretrainConfig)
    assert (config.lr, config.weight_decay, config.betas, config.clip_grad) == (8e-4, 0.05, (0.9, 0.999), 1.0)
    assert (config.warmup_lr, config.min_lr, config.epochs, config.warmup_epochs) == (1e-6, 1e-5, 110, 10.0)
    assert (config.img_size, config.mask_patch_size, config.mask_ratio, config.effective_batch_size) == \
        (192, 32, 0.6, 2048)
    assert (config.weight_patch_size, config.temperature, config.detector, config.final_norm) == (8, 0.25, "fast",
                                                                                                   True)
    finetune = load_config({"pretrained": "scratch"}, section="finetune")
    assert (finetune.lr, finetune.clip_grad, finetune.min_lr) == (5e-3, 1.0, 2.5e-6)  # the TPU scripts clip at 1.0
    assert load_config({"pretrained": "scratch"}, section="linprobe").probe_layer == 8


def test_precedence_defaults_top_level_block_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**SMALL, "lr": 1e-3, "epochs": 4, "warmup_epochs": 1,
                                    "pretrain": {"lr": 2e-3}, "finetune": {"lr": 3e-3}}))
    config = load_config(path, ["epochs=3"], section="pretrain")
    assert (config.lr, config.epochs, config.weight_decay) == (2e-3, 3, 0.05)
    finetune = load_config(path, {"pretrained": "scratch"}, section="finetune")
    assert (finetune.lr, finetune.epochs) == (3e-3, 4)


def test_section_key_picks_the_command(tmp_path):
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump({"section": "linprobe", **{k: v for k, v in SMALL.items()
                                                              if k != "mask_patch_size"}, "pretrained": "scratch"}))
    assert isinstance(load_config(path), LinprobeConfig)


@pytest.mark.parametrize("source, overrides, expected", [
    ({"lrr": 1e-3}, None, "unknown key 'lrr' (did you mean 'lr'?)"),
    ({"pretrain": {"temprature": 0.5}}, None, "unknown key pretrain.temprature (did you mean 'temperature'?)"),
    (None, ["mask_ration=0.5"], "unknown key 'mask_ration' for `kamim pretrain` (did you mean 'mask_ratio'?)"),
    (None, ["epochs=1.5"], "epochs: expected an integer, got '1.5'"),
    ({"batch_size": "big"}, None, "batch_size: expected an integer"),
    ({"final_norm": "false"}, None, "final_norm: expected true or false, got 'false'"),
    (None, ["betas=[0.9]"], "betas: expected 2 values"),
    (None, ["lr"], "must look like key=value"),
    (None, ["prob.lr=0.1"], "names command 'prob'; the prefix must be one of pretrain, finetune, linprobe (did you mean 'linprobe'?)"),
    ({"method": "simim"}, None, "method='simim' is not allowed; choose one of simmim, kamim, semanticmim (did you mean 'simmim'?)"),
    ({"detector": "surf"}, None, "detector='surf' is not allowed; choose one of fast, sift, orb"),
    ({"device": "gpu"}, None, "device='gpu' is not allowed; choose one of auto, cpu, cuda, xla"),
    ({"keypoints_on": "gpu"}, None, "keypoints_on='gpu' is not allowed; choose one of auto, workers, device"),
    ({"temperature": 0}, None, "temperature=0.0 must be > 0"),
    ({"img_size": 200}, None, "img_size=200 must be divisible by mask_patch_size=32"),
    ({**SMALL, "mask_patch_size": 24, "img_size": 48}, None,
     "mask_patch_size=24 must be divisible by the patch size 16 of model='vit_nano'"),
    ({**SMALL, "weight_patch_size": 24}, None, "weight_patch_size=24 must divide img_size=64"),
    ({"keypoints_on": "device", "detector": "sift"}, None, "keypoints_on='device' supports detector in ('fast',)"),
    ({"mask_ratio": 1.0}, None, "mask_ratio=1.0 must be in (0, 1)"),
    ({"model": "vit_bb"}, None, "model='vit_bb' is not a known model; choose one of"),
    ({"dataset": "imagenet1k"}, None, "dataset='imagenet1k' is not a known data set"),
    ({"epochs": 5, "warmup_epochs": 5}, None, "warmup_epochs=5.0 must be smaller than epochs=5"),
    ({"batch_size": 96}, None, "effective_batch_size=2048 must be a multiple of batch_size=96"),
    ({"accum_steps": 2}, None, "set either effective_batch_size (2048) or accum_steps (2)"),
])
def test_bad_configuration_names_the_key_and_the_allowed_values(source, overrides, expected):
    assert expected in error_text(source, overrides)


def test_every_problem_is_reported_in_one_error():
    with pytest.raises(ConfigError) as info:
        load_config({"model": "vit_bb", "img_size": 200, "temperature": 0.25, "method": "x"})
    problems = info.value.problems
    assert any("model='vit_bb'" in p for p in problems) and any("method='x'" in p for p in problems)
    assert isinstance(info.value, ValueError)


def test_command_line_values_are_typed_by_the_key():
    config = load_config(SMALL, ["final_norm=false", "betas=0.9,0.95", "lr=1e-3", "data_root=none",
                                 "dataset_options={image_size: 64}", "clip_grad=none"])
    assert config.final_norm is False and config.betas == (0.9, 0.95) and config.lr == 1e-3
    assert config.data_root is None and config.dataset_options == {"image_size": 64} and config.clip_grad is None
    # YAML 1.1 reads 1e-3 (no dot) as a string: accepted for float keys, never for int or bool keys.
    assert load_config({**SMALL, "lr": "1e-3"}).lr == 1e-3


def test_configs_are_frozen_and_round_trip_through_plain_json():
    config = load_config(SMALL, ["method=simmim"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0
    data = json.loads(json.dumps(config_to_dict(config)))
    assert data["section"] == "pretrain" and data["betas"] == [0.9, 0.999]
    assert config_from_dict(data) == config


def test_run_id_follows_identity_keys_only():
    base = load_config(SMALL)
    assert run_id(base) == run_id(load_config(SMALL))
    assert run_id(base).startswith("kamim-vit_nano-digits-")
    assert run_id(load_config(SMALL, ["lr=1e-3"])) != run_id(base)
    assert run_id(load_config(SMALL, ["method=simmim"])).startswith("simmim-")
    for key_value in ("out_dir=elsewhere", "num_workers=0", "device=cpu", "progress=false"):
        assert run_id(load_config(SMALL, [key_value])) == run_id(base), key_value
    assert run_dir(base) == Path("results") / "pretrain" / run_id(base)


def test_finetune_defaults_to_the_pretrain_run_of_the_same_config():
    source = {**{k: v for k, v in SMALL.items() if k != "mask_patch_size"}, "out_dir": "runs",
              "pretrain": {"mask_patch_size": 16}}
    kamim = load_config(source, section="finetune")
    simmim = load_config(source, ["method=simmim"], section="finetune")
    assert isinstance(kamim, FinetuneConfig)
    assert kamim.pretrained == str(run_dir(load_config(source, section="pretrain")))
    assert simmim.pretrained == str(run_dir(load_config(source, ["method=simmim"], section="pretrain")))
    assert run_id(kamim) != run_id(simmim) and run_id(simmim).startswith("simmim-")
    # Finetune-only keys do not move the pretrain run; prefixed keys do.
    assert load_config(source, ["lr=1e-4"], section="finetune").pretrained == kamim.pretrained
    assert load_config(source, ["pretrain.lr=1e-4"], section="finetune").pretrained != kamim.pretrained
    assert "only select the pretrain run when pretrained is unset" in \
        error_text(source, ["pretrained=scratch", "method=simmim"], section="finetune")


def test_help_documents_every_key():
    from kamim_paper.cli import build_parser

    for section, cls in (("pretrain", PretrainConfig), ("finetune", FinetuneConfig), ("linprobe", LinprobeConfig)):
        text = describe_config(section)
        parser = build_parser()
        help_text = parser._subparsers._group_actions[0].choices[section].format_help()
        for key in config_fields(cls):
            assert f"\n{key} (" in "\n" + text, key
            assert f"{key} (" in help_text, key
