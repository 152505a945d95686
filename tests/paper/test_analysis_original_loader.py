"""The original-loader diagnostic (issue 14) on checkpoints written here in each of the original's formats, and
MoCo v3 checkpoints loaded strictly into the analysis. Known answers: vit_nano's HF layout has
5 embedding + 16 per block x 8 blocks + 2 final LayerNorm + 2 decoder = 137 tensors."""
from functools import partial

import pytest
import torch
import transformers
from torch import nn
from timm.models.vision_transformer import VisionTransformer

from kamim_paper.original.moco_v3 import (is_moco_v3_model, load_moco_v3, moco_v3_encoder_state_dict,
                                          sincos_position_embedding)
from kamim_paper.original.loader_report import (format_original_loader_report, hf438_vit_mim, original_loader_report,
                                                report_sentences)
from kamim_paper.cli import main
from kamim_lib.models import StateDictMismatchError, create_model, load_pretrained

NANO_TENSORS = 5 + 16 * 8 + 2 + 2
ORIGINAL_PATHS = ("hf_vit_mim", "local_simmim_copy")


@pytest.fixture(scope="module")
def trained_438():
    """A 'trained' vit_nano in transformers 4.38 key names: the original's layout, every value moved off init."""
    torch.manual_seed(1)
    return {key: value + torch.randn_like(value) for key, value in hf438_vit_mim("vit_nano").state_dict().items()}


def _save(tmp_path, name, obj):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_plain_state_dict_is_loaded_by_both_original_classes(tmp_path, trained_438):
    report = original_loader_report(_save(tmp_path, "final.pth", trained_438), "vit_nano")
    for loader in ORIGINAL_PATHS:
        outcome = report.outcome(loader)
        assert (outcome.tensors_set, outcome.tensors_total) == (NANO_TENSORS, NANO_TENSORS)
        assert outcome.tensors_changed == NANO_TENSORS and outcome.fully_loaded
        assert not outcome.identical_to_random_init and not outcome.missing and not outcome.unexpected
    assert report.strict_ok
    # The file really is the original's layout: kamim's strict loader reproduces it exactly.
    model = load_pretrained(report.path, "vit_nano")
    assert torch.equal(model.encoder.cls_token, trained_438["vit.embeddings.cls_token"])


def test_periodic_checkpoint_sets_no_weight_through_the_notebooks_code(tmp_path, trained_438):
    periodic = {"epoch": 40, "model_state_dict": trained_438,
                "optim_state_dict": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]},
                "scheduler_state_dict": {"last_epoch": 40}}
    report = original_loader_report(_save(tmp_path, "checkpoint_40.pth", periodic), "vit_nano")
    for loader in (*ORIGINAL_PATHS, "hf_vit_mim_installed"):
        outcome = report.outcome(loader)
        assert (outcome.tensors_set, outcome.tensors_total, outcome.elements_set) == (0, NANO_TENSORS, 0)
        assert outcome.identical_to_random_init
        assert outcome.unexpected == ["epoch", "model_state_dict", "optim_state_dict", "scheduler_state_dict"]
        assert len(outcome.missing) == NANO_TENSORS
    assert report.strict_ok  # kamim unwraps model_state_dict
    assert "0 of 137 tensors" in format_original_loader_report(report)
    assert "untrained network" in report_sentences("KAMIM", report)[0]


@pytest.mark.parametrize("rename", [lambda key: "module." + key, lambda key: key.replace("vit.", "", 1)],
                         ids=["ddp-prefix", "encoder-only-names"])
def test_key_renamed_state_dict_sets_nothing_but_the_untouched_keys(tmp_path, trained_438, rename):
    renamed = {rename(key): value for key, value in trained_438.items()}
    report = original_loader_report(_save(tmp_path, "renamed.pth", renamed), "vit_nano")
    outcome = report.outcome("hf_vit_mim")
    unchanged_names = sum(rename(key) == key for key in trained_438)  # the decoder keeps its name without "vit."
    assert outcome.tensors_set == unchanged_names
    assert outcome.identical_to_random_init == (unchanged_names == 0)


def test_this_projects_own_checkpoint_and_transformers_5_names(tmp_path):
    torch.manual_seed(3)
    report = original_loader_report(_save(tmp_path, "kamim.pth", create_model("vit_nano").state_dict()), "vit_nano")
    assert report.outcome("hf_vit_mim").tensors_set == 0 and report.strict_ok

    hf5 = transformers.ViTForMaskedImageModeling(transformers.ViTConfig(
        hidden_size=64, num_hidden_layers=8, num_attention_heads=2, image_size=64, patch_size=16,
        intermediate_size=256)).state_dict()
    report = original_loader_report(_save(tmp_path, "hf5.pth", hf5), "vit_nano")
    if any(key.startswith("vit.layers.") for key in hf5):  # transformers >= 5 spells the blocks differently
        # Only embeddings (5), final LayerNorm (2) and decoder (2) keep their names across versions.
        assert report.outcome("hf_vit_mim").tensors_set == 9
    assert report.outcome("hf_vit_mim_installed").tensors_set == NANO_TENSORS


def test_shape_mismatch_is_the_notebook_failing(tmp_path, trained_438):
    report = original_loader_report(_save(tmp_path, "final.pth", trained_438), "vit_t")
    outcome = report.outcome("hf_vit_mim")
    assert outcome.error is not None and "size mismatch" in outcome.error
    assert not report.strict_ok and "does not match" in report.strict_loader


def test_cli_prints_the_report(tmp_path, trained_438, capsys):
    path = _save(tmp_path, "checkpoint_5.pth", {"epoch": 5, "model_state_dict": trained_438})
    assert main(["inspect-checkpoint", str(path), "--model", "vit_nano"]) == 0
    out = capsys.readouterr().out
    assert out.count("sets 0 of 137 tensors") == 3 and "kamim's strict loader: loads strictly" in out
    assert main(["inspect-checkpoint", str(tmp_path / "absent.pth")]) == 2
    assert "does not exist" in capsys.readouterr().err


# --- MoCo v3 ---------------------------------------------------------------------------------------------------


def _moco_encoder(img_size=64):
    """A randomly initialised MoCo v3-style timm ViT at vit_nano's size (eps 1e-6, sin-cos pos_embed)."""
    torch.manual_seed(7)
    vit = VisionTransformer(img_size=img_size, patch_size=16, embed_dim=64, depth=8, num_heads=2, qkv_bias=True,
                            norm_layer=partial(nn.LayerNorm, eps=1e-6), num_classes=0)
    with torch.no_grad():
        vit.pos_embed.copy_(sincos_position_embedding(img_size // 16, 64))
        for parameter in vit.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    vit.head = nn.Sequential(nn.Linear(64, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 16))
    return vit.eval()


def _moco_checkpoint(encoder):
    state = {}
    for key, value in encoder.state_dict().items():
        state[f"module.base_encoder.{key}"] = value
        state[f"module.momentum_encoder.{key}"] = value.clone()
    state["module.predictor.0.weight"] = torch.randn(32, 16)
    return {"epoch": 300, "arch": "vit_base", "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}


def test_sincos_embedding_known_values():
    embedding = sincos_position_embedding(3, 8)
    assert embedding.shape == (1, 10, 8) and torch.equal(embedding[0, 0], torch.zeros(8))
    # Token 5 sits at (5 // 3, 5 % 3) = (1, 2); omega = (1, 1/100) for D/4 = 2.
    omega = torch.tensor([1.0, 0.01])
    expected = torch.cat([(1 * omega).sin(), (1 * omega).cos(), (2 * omega).sin(), (2 * omega).cos()])
    torch.testing.assert_close(embedding[0, 6], expected)


def test_moco_checkpoint_loads_strictly_and_computes_what_moco_computes(tmp_path):
    encoder = _moco_encoder()
    path = _save(tmp_path, "vit-nano-moco.pth.tar", _moco_checkpoint(encoder))
    model = load_moco_v3(path, "vit_nano", img_size=64)
    assert is_moco_v3_model(model) and model.token_grid == 4
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.encoder.forward_features(images), encoder.forward_features(images),
                                   rtol=1e-5, atol=1e-5)
    report = original_loader_report(path, "vit_nano")
    moco = report.outcome("moco_v3")
    # The original's MoCo path: every encoder tensor but the 1000-class head it builds and never fills.
    assert moco.error is None and moco.missing == ["head.bias", "head.weight"] and moco.unexpected == []
    assert report.strict_ok and "MoCo v3" in report.file_layout


def test_moco_checkpoint_with_a_missing_or_mis_sized_key_is_refused(tmp_path):
    checkpoint = _moco_checkpoint(_moco_encoder())
    del checkpoint["state_dict"]["module.base_encoder.blocks.3.attn.qkv.weight"]
    with pytest.raises(StateDictMismatchError, match="blocks.3.attn.qkv.weight"):
        load_moco_v3(_save(tmp_path, "broken.pth.tar", checkpoint), "vit_nano", img_size=64)
    with pytest.raises(StateDictMismatchError, match="pos_embed"):
        load_moco_v3(_save(tmp_path, "moco96.pth.tar", _moco_checkpoint(_moco_encoder(96))), "vit_nano", img_size=64)
    with pytest.raises(ValueError, match="not a MoCo v3 checkpoint"):
        moco_v3_encoder_state_dict({"state_dict": {"encoder.cls_token": torch.zeros(1)}})


def test_reports_for_an_analysis_name_files_the_original_could_not_read(tmp_path, trained_438):
    from kamim_paper.original.loader_report import checkpoint_loader_reports

    folder = tmp_path / "hf_folder"
    folder.mkdir()
    records, sentences = checkpoint_loader_reports(
        {"final": _save(tmp_path, "final.pth", trained_438), "folder": folder}, "vit_nano")
    assert records["final"]["outcomes"][0]["tensors_set"] == NANO_TENSORS
    assert "could not have read" in records["folder"]["error"]
    assert any(s.startswith("final: the original's hf_vit_mim path sets 137 of 137") for s in sentences)


def test_a_file_with_python_objects_needs_trust_pickle(tmp_path, trained_438, capsys):
    import argparse

    path = _save(tmp_path, "with_args.pth", {"epoch": 3, "model_state_dict": trained_438,
                                             "args": argparse.Namespace(lr=1e-4)})
    with pytest.raises(ValueError, match="trust_pickle=True"):
        original_loader_report(path, "vit_nano")
    report = original_loader_report(path, "vit_nano", trust_pickle=True)
    assert report.outcome("hf_vit_mim").tensors_set == 0 and report.strict_ok
    assert main(["inspect-checkpoint", str(path), "--model", "vit_nano", "--trust-pickle"]) == 0
    assert "sets 0 of 137 tensors" in capsys.readouterr().out
