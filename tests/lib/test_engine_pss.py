"""PSS through the fine-tune engine: the drop ratio follows the schedule per optimiser step, validation runs on
every token, and a pretrain checkpoint loads with fresh relative-position-bias tables."""
from __future__ import annotations

import pytest

from engine_fixtures import tiny_config
from kamim_lib.config import ConfigError
from kamim_lib.engine import fit
from kamim_lib.engine.pss_classifier import TokenDropClassifier
from kamim_lib.models.pss import applied_drop_ratio


def test_finetune_follows_the_cyclic_schedule_and_validates_on_every_token(tmp_path):
    ratios, lengths, hooked = [], [], []

    def on_step(info):
        model = info["model"]
        assert isinstance(model, TokenDropClassifier)
        if not hooked:
            hooked.append(model.encoder.blocks[0].register_forward_hook(
                lambda module, inputs, output: lengths.append((module.training, output.shape[1]))))
        ratios.append(model.drop_ratio)

    config = tiny_config(tmp_path, "finetune", pretrained="scratch", epochs=2, pss="cyclic",
                         relative_position_bias=True)
    summary = fit(config, on_step=on_step)
    steps_per_epoch = summary["derived"]["steps_per_epoch"]
    total = summary["derived"]["total_steps"]
    expected = [applied_drop_ratio("cyclic", step, total_steps=total, steps_per_epoch=steps_per_epoch)
                for step in range(1, total + 1)]
    assert ratios == expected and max(ratios) == 0.8 and min(ratios) == 0.0
    evaluation = [length for training, length in lengths if not training]
    assert evaluation and set(evaluation) == {1 + 4}  # vit_nano at 32 px: 2 x 2 patches + CLS
    assert min(length for training, length in lengths if training) < 5
    assert summary["status"] == "finished"


def test_pretrained_checkpoint_gets_fresh_position_bias(tmp_path):
    pretrain = tiny_config(tmp_path, epochs=1, method="simmim")
    fit(pretrain)
    from kamim_lib.engine.run_dir import RunDirectory

    config = tiny_config(tmp_path, "finetune", pretrained=str(RunDirectory(pretrain).path), epochs=1, pss="linear",
                         relative_position_bias=True)
    summary = fit(config)
    assert summary["derived"]["unused_pretraining_weights"] == ["decoder"]
    assert summary["derived"]["freshly_initialised"] == [f"relative_position_bias.{i}."
                                                         "relative_position_bias_table" for i in range(8)]


def test_pss_needs_a_vit(tmp_path):
    with pytest.raises(ConfigError, match="need a ViT"):
        tiny_config(tmp_path, "finetune", model="swin_nano", pss="cyclic")
    with pytest.raises(ConfigError, match="never drops a token"):
        tiny_config(tmp_path, "finetune", pss="linear", pss_start=0.0, pss_end=0.0)


def test_pss_keys_count_in_the_run_id_only_when_pss_runs(tmp_path):
    from kamim_lib.config import run_id

    plain = tiny_config(tmp_path, "finetune", pretrained="scratch")
    assert run_id(tiny_config(tmp_path, "finetune", pretrained="scratch", pss_start=0.6)) == run_id(plain)
    cyclic = tiny_config(tmp_path, "finetune", pretrained="scratch", pss="cyclic")
    assert run_id(cyclic) != run_id(plain)
    assert run_id(tiny_config(tmp_path, "finetune", pretrained="scratch", pss="cyclic", pss_start=0.6)) \
        != run_id(cyclic)
    assert run_id(tiny_config(tmp_path, "finetune", pretrained="scratch", relative_position_bias=True)) \
        != run_id(plain)


def test_external_state_dict_gets_fresh_position_bias(tmp_path):
    import torch

    from kamim_lib.engine.pretrained import load_backbone
    from kamim_lib.models import create_model

    torch.manual_seed(0)
    source = create_model("vit_nano", img_size=32)
    torch.save(source.state_dict(), tmp_path / "plain.pt")
    config = tiny_config(tmp_path, "finetune", pretrained=str(tmp_path / "plain.pt"), relative_position_bias=True)
    encoder, info = load_backbone(config)
    assert info["pretrain_format"] == "external" and len(info["freshly_initialised"]) == 8
    assert torch.equal(encoder.blocks[3].attn.qkv.weight, source.encoder.blocks[3].attn.qkv.weight)
    assert encoder.relative_position_bias is not None
