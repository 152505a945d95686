"""Mask token semantics, final-LayerNorm switch, HF numerics and input checks of kamim_lib.models."""
import importlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kamim_lib.models import create_model

NANO = ["vit_nano", "swin_nano"]


def _batch(model, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    g = model.token_grid
    images = torch.randn(batch, 3, model.img_size, model.img_size, generator=generator)
    mask = torch.randint(0, 2, (batch, g, g), generator=generator)
    mask[:, 0, 0], mask[:, 0, 1] = 1, 0  # at least one masked and one visible token per image
    return images, mask


def _pixel_mask(mask, patch):
    return mask.repeat_interleave(patch, 1).repeat_interleave(patch, 2).unsqueeze(1).bool()


@pytest.mark.parametrize("name", NANO)
def test_pixels_under_masked_patches_are_invisible(name):
    model = create_model(name).eval()
    images, mask = _batch(model)
    scrambled = torch.where(_pixel_mask(mask, model.patch_size), torch.randn_like(images) * 5, images)
    with torch.no_grad():
        before = model.encoder.forward_intermediates(images, mask)
        after = model.encoder.forward_intermediates(scrambled, mask)
        assert torch.equal(model(images, mask), model(scrambled, mask))
    for a, b in zip(before.hidden_states, after.hidden_states):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", NANO)
def test_pixels_under_visible_patches_do_matter(name):
    model = create_model(name).eval()
    images, mask = _batch(model)
    changed = torch.where(_pixel_mask(mask, model.patch_size), images, images + 1.0)
    with torch.no_grad():
        assert not torch.allclose(model(images, mask), model(changed, mask))


def test_vit_masked_tokens_are_the_mask_token_plus_position():
    model = create_model("vit_nano").eval()
    with torch.no_grad():
        model.encoder.mask_token.normal_()
        images, mask = _batch(model)
        embedded = model.encoder.forward_intermediates(images, mask).hidden_states[0]
    flat = mask.flatten(1).bool()
    pos = model.encoder.pos_embed[0, 1:]
    for b in range(2):
        expected = model.encoder.mask_token[0, 0] + pos[flat[b]]
        assert torch.allclose(embedded[b, 1:][flat[b]], expected, atol=1e-6)
        # visible tokens are the patch embedding plus position
        visible = model.encoder.patch_embed(images[b:b + 1])[0][~flat[b]] + pos[~flat[b]]
        assert torch.allclose(embedded[b, 1:][~flat[b]], visible, atol=1e-5)


def test_swin_masked_tokens_are_the_mask_token_after_the_patch_norm():
    model = create_model("swin_nano").eval()
    with torch.no_grad():
        model.encoder.mask_token.normal_()
        images, mask = _batch(model)
        embedded = model.encoder.forward_intermediates(images, mask).hidden_states[0]
    flat = mask.flatten(1).bool()
    normed = model.encoder.patch_embed(images).flatten(1, 2)  # conv + LayerNorm
    for b in range(2):
        assert torch.equal(embedded[b][flat[b]], model.encoder.mask_token[0, 0].expand(int(flat[b].sum()), -1))
        assert torch.equal(embedded[b][~flat[b]], normed[b][~flat[b]])


@pytest.mark.parametrize("name", NANO)
def test_no_mask_equals_all_visible_mask_and_flat_mask_equals_grid_mask(name):
    model = create_model(name).eval()
    images, mask = _batch(model)
    with torch.no_grad():
        model.encoder.mask_token.normal_()
        assert torch.equal(model(images), model(images, torch.zeros_like(mask)))
        assert torch.equal(model(images, mask), model(images, mask.flatten(1)))
        assert torch.equal(model(images, mask), model(images, mask.bool()))


@pytest.mark.parametrize("name", NANO)
def test_gradient_reaches_the_mask_token_only_when_masking(name):
    model = create_model(name)
    images, mask = _batch(model)
    model(images, mask).abs().mean().backward()
    assert model.encoder.mask_token.grad is not None and model.encoder.mask_token.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    model(images).abs().mean().backward()
    assert model.encoder.mask_token.grad is None


@pytest.mark.parametrize("name, eps", [("vit_nano", 1e-12), ("swin_nano", 1e-5)])
def test_final_norm_switch(name, eps):
    images, mask = _batch(create_model(name))
    with_norm = create_model(name).eval()
    inter = with_norm.encoder.forward_intermediates(images, mask)
    last = inter.hidden_states[-1]
    norm = with_norm.encoder.norm
    assert isinstance(norm, nn.LayerNorm) and norm.eps == eps
    assert torch.allclose(inter.last_hidden_state, F.layer_norm(last, last.shape[-1:], norm.weight, norm.bias, eps))

    without = create_model(name, final_norm=False).eval()
    assert isinstance(without.encoder.norm, nn.Identity)
    assert not any(key.startswith("encoder.norm.") for key in without.state_dict())
    inter = without.encoder.forward_intermediates(images, mask)
    assert torch.equal(inter.last_hidden_state, inter.hidden_states[-1])
    features = without.encoder.forward_features(images, mask)
    assert torch.equal(features, inter.hidden_states[-1])


@pytest.mark.parametrize("name, eps", [("vit_nano", 1e-12), ("swin_nano", 1e-5)])
def test_hf_numerics(name, eps):
    model = create_model(name)
    encoder = model.encoder
    norms = [m for m in encoder.modules() if isinstance(m, nn.LayerNorm)]
    assert norms and all(m.eps == eps for m in norms)
    gelus = [m for m in encoder.modules() if isinstance(m, nn.GELU)]
    assert gelus and all(m.approximate == "none" for m in gelus)
    assert not any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())
    assert torch.equal(encoder.mask_token, torch.zeros_like(encoder.mask_token))
    linear = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))])
    # HF and timm truncate at ±2 absolute, so trunc_normal_(std=0.02) is N(0, 0.02²) in practice.
    assert abs(linear.std().item() - 0.02) < 0.001 and abs(linear.mean().item()) < 0.001
    biases = [m.bias for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)) and m.bias is not None]
    assert all(torch.equal(b, torch.zeros_like(b)) for b in biases)
    if name.startswith("vit"):
        assert abs(encoder.pos_embed.std().item() - 0.02) < 0.003
        assert encoder.blocks[0].attn.qkv.bias is not None


def test_drop_path_override_reaches_the_blocks():
    model = create_model("vit_nano", drop_path_rate=0.1)
    rates = [block.drop_path1.drop_prob for block in model.encoder.blocks[1:]]
    assert max(rates) == pytest.approx(0.1)
    assert isinstance(create_model("vit_nano").encoder.blocks[-1].drop_path1, nn.Identity)


@pytest.mark.parametrize("name", NANO)
def test_bad_inputs_raise_value_errors(name):
    model = create_model(name)
    images, mask = _batch(model)
    with pytest.raises(ValueError, match="mask must have shape"):
        model(images, mask[:, :-1])
    with pytest.raises(ValueError, match="images must be a tensor"):
        model(images[..., :-16, :-16], None)
    with pytest.raises(ValueError, match="ImageNet-normalised floats"):
        model(images.to(torch.uint8), mask)


@pytest.mark.parametrize("name", NANO)
def test_gradient_checkpointing_gives_the_same_output_and_gradients(name, monkeypatch):
    module = importlib.import_module("kamim_lib.models." + name.split("_")[0])
    calls = []
    original = module.checkpoint
    monkeypatch.setattr(module, "checkpoint", lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    model = create_model(name)
    images, mask = _batch(model)
    model(images, mask).square().mean().backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    assert not calls
    model.zero_grad(set_to_none=True)
    model.encoder.set_grad_checkpointing(True)
    model(images, mask).square().mean().backward()
    assert len(calls) == 8  # one per block: vit_nano has 8, swin_nano 2 + 2 + 2 + 2
    for n, p in model.named_parameters():
        if n in plain:
            assert torch.allclose(p.grad, plain[n], atol=1e-6), n
