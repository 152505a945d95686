"""Per-layer access: hidden states, attention probabilities (checked against an explicit softmax(QKᵀ/√d))."""
import math

import pytest
import torch
import torch.nn.functional as F

from kamim_lib.models import EncoderIntermediates, create_model


def _inputs(model, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    g = model.token_grid
    images = torch.randn(batch, 3, model.img_size, model.img_size, generator=generator)
    return images, torch.randint(0, 2, (batch, g, g), generator=generator)


def _meta_model(name):
    """Built on the meta device (no memory, no init time); older timm (e.g. 1.0.3) cannot, then on the CPU."""
    try:
        with torch.device("meta"):
            return create_model(name)
    except RuntimeError:
        return create_model(name)


def _randomise_biases(model):
    """Non-zero relative position biases and mask token, so the checks below see them."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("relative_position_bias_table", "mask_token")):
                parameter.normal_(0, 1.0)


def test_vit_b_has_13_hidden_states_of_145_tokens():
    model = _meta_model("vit_b")
    images = torch.zeros(2, 3, 192, 192, device=model.encoder.mask_token.device)
    with torch.no_grad():
        inter = model.encoder.forward_intermediates(images, return_attention=True)
    assert isinstance(inter, EncoderIntermediates)
    assert len(inter.hidden_states) == 13
    assert all(h.shape == (2, 145, 768) for h in inter.hidden_states)
    assert len(inter.attentions) == 12 and all(a.shape == (2, 12, 145, 145) for a in inter.attentions)
    assert inter.last_hidden_state.shape == (2, 145, 768)


def test_swin_b_hidden_states_follow_the_stages():
    model = _meta_model("swin_b")
    images = torch.zeros(1, 3, 192, 192, device=model.encoder.mask_token.device)
    with torch.no_grad():
        inter = model.encoder.forward_intermediates(images, return_attention=True)
    shapes = [tuple(h.shape) for h in inter.hidden_states]  # embedding output, then 2 + 2 + 18 + 2 blocks
    assert shapes == [(1, 2304, 128)] * 3 + [(1, 576, 256)] * 2 + [(1, 144, 512)] * 18 + [(1, 36, 1024)] * 2
    # windows of 6x6: 64, 16, 4 and 1 per image
    assert [tuple(a.shape) for a in inter.attentions[:2]] == [(64, 4, 36, 36)] * 2
    assert tuple(inter.attentions[-1].shape) == (1, 32, 36, 36)


@pytest.mark.parametrize("name", ["vit_nano", "swin_nano"])
def test_forward_features_is_the_last_hidden_state(name):
    model = create_model(name).eval()
    images, mask = _inputs(model)
    with torch.no_grad():
        inter = model.encoder.forward_intermediates(images, mask)
        features = model.encoder.forward_features(images, mask)
    assert torch.equal(features, inter.last_hidden_state)
    assert inter.attentions is None
    expected_count = 1 + (len(model.encoder.blocks) if name.startswith("vit") else sum(model.arch.depths))
    assert len(inter.hidden_states) == expected_count


@pytest.mark.parametrize("name", ["vit_nano", "swin_nano"])
def test_recording_attention_does_not_change_hidden_states(name):
    model = create_model(name).eval()
    _randomise_biases(model)
    images, mask = _inputs(model)
    with torch.no_grad():
        plain = model.encoder.forward_intermediates(images, mask)
        recorded = model.encoder.forward_intermediates(images, mask, return_attention=True)
    for a, b in zip(plain.hidden_states, recorded.hidden_states):
        assert torch.equal(a, b)
    assert torch.equal(plain.last_hidden_state, recorded.last_hidden_state)
    for probs in recorded.attentions:
        assert torch.allclose(probs.sum(-1), torch.ones(()), atol=1e-5)


def _split_qkv(attn, x):
    """q, k, v (B, heads, T, d) computed in the test from the fused weight's three row blocks."""
    dim = x.shape[-1]
    weight, bias = attn.qkv.weight, attn.qkv.bias
    heads = attn.num_heads
    parts = [F.linear(x, weight[i * dim:(i + 1) * dim], bias[i * dim:(i + 1) * dim]) for i in range(3)]
    return [p.reshape(*x.shape[:-1], heads, dim // heads).transpose(-3, -2) for p in parts]


def test_vit_attention_is_softmax_qk_over_sqrt_d():
    model = create_model("vit_nano").eval()
    images, mask = _inputs(model)
    with torch.no_grad():
        inter = model.encoder.forward_intermediates(images, mask, return_attention=True)
        for index, block in enumerate(model.encoder.blocks):
            q, k, _ = _split_qkv(block.attn, block.norm1(inter.hidden_states[index]))
            expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
            assert torch.allclose(inter.attentions[index], expected, atol=1e-6), index


def _relative_index(window):
    """(w², w²) index into the (2w-1)² table: (Δrow + w - 1)·(2w - 1) + (Δcol + w - 1)."""
    rows, cols = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    d_row = rows[:, None] - rows[None, :] + window - 1
    d_col = cols[:, None] - cols[None, :] + window - 1
    return d_row * (2 * window - 1) + d_col


def test_swin_unshifted_attention_is_softmax_qk_over_sqrt_d_plus_bias():
    model = create_model("swin_nano").eval()
    _randomise_biases(model)
    images, mask = _inputs(model)
    window = model.arch.window_size
    block = model.encoder.layers[0].blocks[0]
    assert tuple(block.shift_size) == (0, 0)
    with torch.no_grad():
        inter = model.encoder.forward_intermediates(images, mask, return_attention=True)
        x = block.norm1(inter.hidden_states[0])  # (B, g*g, C), raster order
        g, channels = model.token_grid, x.shape[-1]
        windows = (x.reshape(2, g // window, window, g // window, window, channels)
                   .permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, channels))
        q, k, _ = _split_qkv(block.attn, windows)
        bias = block.attn.relative_position_bias_table[_relative_index(window)].permute(2, 0, 1)
        expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + bias, dim=-1)
    assert torch.allclose(inter.attentions[0], expected, atol=1e-6)


def test_swin_attention_reproduces_every_block_output():
    """Using the returned probabilities in place of the block's own attention rebuilds its output, shifted
    windows included: this pins the window order, the shift and the cross-region mask."""
    model = create_model("swin_nano").eval()
    _randomise_biases(model)
    images, mask = _inputs(model)
    with torch.no_grad():
        inter = model.encoder.forward_intermediates(images, mask, return_attention=True)
        index = 0
        tokens = model.encoder.embed(images, mask)
        for stage in model.encoder.layers:
            tokens = stage.downsample(tokens)
            for block in stage.blocks:
                probs = inter.attentions[index]
                batch, height, width, channels = tokens.shape
                (wh, ww), (sh, sw) = block.window_size, block.shift_size
                x = torch.roll(block.norm1(tokens), shifts=(-sh, -sw), dims=(1, 2))
                windows = (x.reshape(batch, height // wh, wh, width // ww, ww, channels)
                           .permute(0, 1, 3, 2, 4, 5).reshape(-1, wh * ww, channels))
                _, _, v = _split_qkv(block.attn, windows)
                attended = block.attn.proj((probs @ v).transpose(1, 2).reshape(-1, wh * ww, channels))
                attended = (attended.reshape(batch, height // wh, width // ww, wh, ww, channels)
                            .permute(0, 1, 3, 2, 4, 5).reshape(batch, height, width, channels))
                residual = tokens + torch.roll(attended, shifts=(sh, sw), dims=(1, 2))
                rebuilt = residual + block.mlp(block.norm2(residual))
                assert torch.allclose(rebuilt.flatten(1, 2), inter.hidden_states[index + 1], atol=1e-5), index
                tokens = block(tokens)
                index += 1
    assert index == len(inter.attentions) == 8
    assert any(any(block.shift_size) for stage in model.encoder.layers for block in stage.blocks)
