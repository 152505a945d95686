"""The original's HF checkpoints load into our timm models and give the same numbers (SPEC §1.5, §3).

Randomly initialised HF ``ViTForMaskedImageModeling`` / ``SwinForMaskedImageModeling`` (image 192, ViT patch 16,
Swin patch 4 window 6: the original's geometry, narrow and shallow for speed) are saved as the original saved
them, loaded with ``load_pretrained`` and compared output by output.
"""
import re

import pytest
import torch
from torch import nn

from kamim_lib.models import (
    StateDictMismatchError,
    create_model,
    load_pretrained,
    load_state_dict_into,
)

transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-4
VIT_SIZE = dict(embed_dim=64, depth=3, num_heads=4)
SWIN_SIZE = dict(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))


def _randomise(model, seed=0):
    """Replace HF's init (LayerNorm 1/0, zero biases and mask token) by random values so every parameter
    matters; matrices get std 1/sqrt(fan_in) to keep activations O(1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim >= 2 and not name.endswith(("_token", "position_embeddings")):
                std = parameter[0].numel() ** -0.5
            else:
                std = 0.5
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
            if "norm" in name and name.endswith("weight"):
                parameter.add_(1.0)
    return model.eval()


def _hf_vit(image_size=192):
    config = transformers.ViTConfig(image_size=image_size, patch_size=16, hidden_size=VIT_SIZE["embed_dim"],
                                    num_hidden_layers=VIT_SIZE["depth"], num_attention_heads=VIT_SIZE["num_heads"],
                                    intermediate_size=4 * VIT_SIZE["embed_dim"], attn_implementation="eager")
    return _randomise(transformers.ViTForMaskedImageModeling(config))


def _hf_swin():
    config = transformers.SwinConfig(image_size=192, patch_size=4, window_size=6, embed_dim=SWIN_SIZE["embed_dim"],
                                     depths=list(SWIN_SIZE["depths"]), num_heads=list(SWIN_SIZE["num_heads"]),
                                     attn_implementation="eager")
    return _randomise(transformers.SwinForMaskedImageModeling(config), seed=1)


def _save_like_the_original(hf_model, path):
    """The original's training checkpoint: {'epoch', 'model_state_dict', 'optim_state_dict', ...}."""
    optimiser = torch.optim.AdamW(hf_model.parameters(), lr=1e-3)
    torch.save({"epoch": 109, "model_state_dict": hf_model.state_dict(), "optim_state_dict": optimiser.state_dict(),
                "reconstruction_loss": 0.5}, path)
    return path


def _inputs(grid, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(2, 3, 192, 192, generator=generator)
    return images, torch.randint(0, 2, (2, grid, grid), generator=generator)


def _max_error(pairs):
    return max((a - b).abs().max().item() for a, b in pairs)


def _to_transformers_438_names(state_dict, family):
    """Rename transformers-5 keys to the 4.38 spelling the original's checkpoints use (per transformers'
    own conversion_mapping and the 4.38 modeling files), adding 4.38's persistent relative_position_index."""
    renamed = {}
    for key, value in state_dict.items():
        if family == "vit":
            key = re.sub(r"^vit\.layers\.", "vit.encoder.layer.", key)
            key = re.sub(r"attention\.(q|k|v)_proj", lambda m: "attention.attention." + {
                "q": "query", "k": "key", "v": "value"}[m.group(1)], key)
        else:
            key = re.sub(r"attention\.(q|k|v)_proj", lambda m: "attention.self." + {
                "q": "query", "k": "key", "v": "value"}[m.group(1)], key)
            key = key.replace("attention.relative_position_bias.relative_position_bias_table",
                              "attention.self.relative_position_bias_table")
        key = key.replace("attention.o_proj", "attention.output.dense")
        key = key.replace("mlp.fc1", "intermediate.dense").replace("mlp.fc2", "output.dense")
        renamed[key] = value
        if key.endswith("attention.self.relative_position_bias_table"):
            index_key = key.replace("relative_position_bias_table", "relative_position_index")
            renamed[index_key] = _hf_438_relative_position_index(6)
    return renamed


def _hf_438_relative_position_index(window):
    """transformers 4.38 SwinSelfAttention's buffer: (Δrow + w - 1)·(2w - 1) + (Δcol + w - 1)."""
    rows, cols = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    d_row = rows[:, None] - rows[None, :] + window - 1
    d_col = cols[:, None] - cols[None, :] + window - 1
    return d_row * (2 * window - 1) + d_col


def test_a_non_standard_relative_position_index_is_refused():
    old = _to_transformers_438_names(_hf_swin().state_dict(), "swin")
    key = next(k for k in old if k.endswith("relative_position_index"))
    old[key] = torch.zeros_like(old[key])
    with pytest.raises(ValueError, match="not the standard Swin relative position index"):
        load_state_dict_into(create_model("swin_b", **SWIN_SIZE), old)


def test_vit_checkpoint_gives_the_same_reconstruction_states_and_attention(tmp_path):
    hf = _hf_vit()
    ours = load_pretrained(_save_like_the_original(hf, tmp_path / "vit.pth"), "vit_b", **VIT_SIZE).eval()
    images, mask = _inputs(12)
    with torch.no_grad():
        expected = hf(images, bool_masked_pos=mask.flatten(1).bool(), output_hidden_states=True,
                      output_attentions=True)
        encoder_out = hf.vit(images, bool_masked_pos=mask.flatten(1).bool())
        inter = ours.encoder.forward_intermediates(images, mask, return_attention=True)
        reconstruction = ours(images, mask)
    assert len(expected.hidden_states) == len(inter.hidden_states) == VIT_SIZE["depth"] + 1
    errors = {
        "reconstruction": _max_error([(expected.reconstruction, reconstruction)]),
        "hidden_states": _max_error(zip(expected.hidden_states, inter.hidden_states)),
        "last_hidden_state": _max_error([(encoder_out.last_hidden_state, inter.last_hidden_state)]),
        "attentions": _max_error(zip(expected.attentions, inter.attentions)),
    }
    print("ViT parity max-abs errors:", errors)
    assert expected.reconstruction.abs().mean() > 0.1  # a non-trivial comparison
    assert all(error < TOLERANCE for error in errors.values()), errors


def _per_block_hf_swin_states(hf, images, mask):
    """HF's Swin reports stage outputs after patch merging; hook each block to compare like with like."""
    captured = []

    def keep(module, inputs, output):
        captured.append(output[0] if isinstance(output, tuple) else output)

    handles = [hf.swin.embeddings.register_forward_hook(keep)]
    handles += [block.register_forward_hook(keep) for stage in hf.swin.encoder.layers for block in stage.blocks]
    try:
        output = hf(images, bool_masked_pos=mask.flatten(1).bool(), output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    return output, captured


def test_swin_checkpoint_gives_the_same_reconstruction_states_and_attention(tmp_path):
    hf = _hf_swin()
    ours = load_pretrained(_save_like_the_original(hf, tmp_path / "swin.pth"), "swin_b", **SWIN_SIZE).eval()
    images, mask = _inputs(48)
    with torch.no_grad():
        expected, hf_states = _per_block_hf_swin_states(hf, images, mask)
        encoder_out = hf.swin(images, bool_masked_pos=mask.flatten(1).bool())
        inter = ours.encoder.forward_intermediates(images, mask, return_attention=True)
        reconstruction = ours(images, mask)
    assert len(hf_states) == len(inter.hidden_states) == 1 + sum(SWIN_SIZE["depths"])
    # HF returns the attention of each stage's last block (shifted windows in stages 1-3).
    last_blocks = [sum(SWIN_SIZE["depths"][:s + 1]) - 1 for s in range(4)]
    assert len(expected.attentions) == 4
    errors = {
        "reconstruction": _max_error([(expected.reconstruction, reconstruction)]),
        "hidden_states": _max_error(zip(hf_states, inter.hidden_states)),
        "last_hidden_state": _max_error([(encoder_out.last_hidden_state, inter.last_hidden_state)]),
        "attentions": _max_error(zip(expected.attentions, [inter.attentions[i] for i in last_blocks])),
    }
    print("Swin parity max-abs errors:", errors)
    assert expected.reconstruction.abs().mean() > 0.1
    assert all(error < TOLERANCE for error in errors.values()), errors


def test_patch_merging_neighbour_order_is_hf_order():
    """HF concatenates x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2] (row, column)."""
    merge = create_model("swin_nano").encoder.layers[1].downsample
    merge.norm, merge.reduction = nn.Identity(), nn.Identity()
    x = torch.randn(1, 4, 4, 3)
    hf_order = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
    assert torch.equal(merge(x), hf_order)


@pytest.mark.parametrize("family", ["vit", "swin"])
def test_transformers_438_key_names_load_too(family):
    hf, name, size, grid = (_hf_vit(), "vit_b", VIT_SIZE, 12) if family == "vit" else (
        _hf_swin(), "swin_b", SWIN_SIZE, 48)
    old = _to_transformers_438_names(hf.state_dict(), family)
    assert any(".attention.attention.query." in k or ".attention.self.query." in k for k in old)
    ours = create_model(name, **size).eval()
    report = load_state_dict_into(ours, old)
    assert report.complete and report.source_format == f"hf_{family}"
    images, mask = _inputs(grid)
    with torch.no_grad():
        expected = hf(images, bool_masked_pos=mask.flatten(1).bool()).reconstruction
        assert _max_error([(expected, ours(images, mask))]) < TOLERANCE


def test_save_pretrained_directory_and_own_checkpoints_load(tmp_path):
    hf = _hf_vit()
    hf.save_pretrained(tmp_path / "hf")
    from_dir = load_pretrained(tmp_path / "hf", "vit_b", **VIT_SIZE).eval()
    images, mask = _inputs(12)
    torch.save({"model": {"module." + k: v for k, v in from_dir.state_dict().items()}}, tmp_path / "ours.pt")
    again = load_pretrained(tmp_path / "ours.pt", "vit_b", **VIT_SIZE).eval()
    with torch.no_grad():
        expected = hf(images, bool_masked_pos=mask.flatten(1).bool()).reconstruction
        assert _max_error([(expected, from_dir(images, mask))]) < TOLERANCE
        assert torch.equal(from_dir(images, mask), again(images, mask))


def test_swin_checkpoint_into_a_vit_name_says_so(tmp_path):
    path = _save_like_the_original(_hf_swin(), tmp_path / "swin.pth")
    with pytest.raises(StateDictMismatchError, match="looks like a Swin checkpoint but name='vit_t'") as error:
        load_pretrained(path, "vit_t")
    assert "missing keys" in str(error.value) and "encoder.blocks.0.attn.qkv.weight" in str(error.value)


def test_missing_and_unexpected_keys_are_listed():
    hf = _hf_vit()
    state = hf.state_dict()
    del state["vit.layers.1.mlp.fc1.weight"]
    del state["vit.layers.2.attention.k_proj.bias"]  # an incomplete q/k/v triple cannot be fused
    state["vit.pooler.dense.weight"] = torch.zeros(64, 64)
    with pytest.raises(StateDictMismatchError) as error:
        load_state_dict_into(create_model("vit_b", **VIT_SIZE), state)
    message = str(error.value)
    assert re.search(r"missing keys \(2\): encoder.blocks.1.mlp.fc1.weight, encoder.blocks.2.attn.qkv.bias", message)
    assert "unexpected keys (3)" in message
    for key in ("vit.pooler.dense.weight", "vit.layers.2.attention.q_proj.bias", "vit.layers.2.attention.v_proj.bias"):
        assert key in message


def test_non_strict_load_warns_and_keeps_the_rest():
    hf = _hf_vit()
    state = hf.state_dict()
    del state["vit.layers.1.mlp.fc1.weight"]
    model = create_model("vit_b", **VIT_SIZE)
    initial = model.encoder.blocks[1].mlp.fc1.weight.clone()
    with pytest.warns(UserWarning, match="1 missing keys"):
        report = load_state_dict_into(model, state, strict=False)
    assert report.missing == ["encoder.blocks.1.mlp.fc1.weight"] and not report.unexpected
    assert torch.equal(model.encoder.blocks[1].mlp.fc1.weight, initial)
    assert torch.equal(model.encoder.blocks[1].mlp.fc2.weight, state["vit.layers.1.mlp.fc2.weight"])


def test_final_norm_and_shape_mismatches_get_hints():
    state = _hf_vit().state_dict()
    with pytest.raises(StateDictMismatchError, match="final_norm=True"):
        load_state_dict_into(create_model("vit_b", final_norm=False, **VIT_SIZE), state)
    pos_embed_mismatch = r"(?s)encoder.pos_embed \(1, 145, 64\) vs \(1, 197, 64\).*145 position slots.*img_size"
    with pytest.raises(StateDictMismatchError, match=pos_embed_mismatch):
        load_state_dict_into(create_model("vit_b", img_size=224, **VIT_SIZE), state)
    # shape mismatches are errors even when not strict
    with pytest.raises(StateDictMismatchError, match="shape mismatches"):
        load_state_dict_into(create_model("vit_b", img_size=224, **VIT_SIZE), state, strict=False)


def test_window_size_mismatch_gets_a_hint():
    with pytest.raises(StateDictMismatchError, match="another window_size"):
        load_state_dict_into(create_model("swin_nano", window_size=2), create_model("swin_nano").state_dict())


def test_wrong_size_hint_names_the_matching_registered_model():
    nano = create_model("vit_nano")
    with pytest.raises(StateDictMismatchError, match="match vit_nano, not name='vit_t'"):
        load_state_dict_into(create_model("vit_t", img_size=64), nano.state_dict())
    # same depth, other width: only shapes differ
    with pytest.raises(StateDictMismatchError, match="(?s)shape mismatches.*match vit_nano, not name='vit_t'"):
        load_state_dict_into(create_model("vit_t", img_size=64, depth=8), nano.state_dict())


def test_a_file_without_weights_is_rejected(tmp_path):
    torch.save({"epoch": 3, "note": "no weights"}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="does not hold a state dict"):
        load_pretrained(tmp_path / "bad.pth", "vit_nano")
    with pytest.raises(ValueError, match="does not exist"):
        load_pretrained(tmp_path / "absent.pth", "vit_nano")
