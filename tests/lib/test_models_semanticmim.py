"""SemanticMIM's proxy bottleneck (PEERS §4.6) and the HOG target."""
from __future__ import annotations

import pytest
import torch

from kamim_lib.checkpoint import load_state_strict
from kamim_lib.engine.pretrained import split_encoder_weights
from kamim_lib.hog import hog_cells, hog_patch_targets, hog_target_dim
from kamim_lib.masking import random_cell_masks
from kamim_lib.models import create_model, model_arch
from kamim_lib.models.semanticmim import SemanticMIMModel, cross_attention_block, split_by_mask


def _model(num_proxies: int = 1, use_bottleneck: bool = True, seed: int = 0) -> SemanticMIMModel:
    torch.manual_seed(seed)
    arch = model_arch("vit_nano", img_size=32, patch_size=4, depth=3)
    model = SemanticMIMModel(arch, num_proxies=num_proxies, out_dim=3 * 16, use_bottleneck=use_bottleneck)
    torch.nn.init.normal_(model.encoder.mask_token, std=0.02)  # zero at init; make it matter
    return model


def _batch(batch: int = 4):
    images = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    mask = random_cell_masks(batch, input_size=32, mask_patch_size=8, model_patch_size=4, mask_ratio=0.6,
                             generator=torch.Generator().manual_seed(2))
    return images, mask


def test_token_sets_partition_the_grid():
    model = _model(num_proxies=8)
    images, mask = _batch()
    proxies, visible, masked, masked_index = model.token_sets(images, mask, int(mask[0].sum()))
    assert proxies.shape == (4, 8, 64) and visible.shape[1] + masked.shape[1] == 64
    flat = mask.flatten(1)
    assert bool((flat.gather(1, masked_index) == 1).all())
    output = model(images, mask)
    assert output.predictions.shape == (4, masked.shape[1], 48)
    assert torch.equal(output.masked_index, masked_index)


def test_split_by_mask_is_ordered():
    visible, masked = split_by_mask(torch.tensor([[1, 0, 0, 1, 0]]), 2)
    assert visible.tolist() == [[1, 2, 4]] and masked.tolist() == [[0, 3]]


@pytest.mark.parametrize("num_proxies", [1, 3])
def test_no_leak_when_the_proxies_are_detached(num_proxies):
    model = _model(num_proxies=num_proxies)
    images, mask = _batch()
    images.requires_grad_(True)
    model(images, mask, detach_proxies=True).predictions.square().sum().backward()
    assert images.grad is None or torch.count_nonzero(images.grad) == 0
    images.grad = None
    model(images, mask).predictions.square().sum().backward()  # the proxies are the one path, and it is open
    assert torch.count_nonzero(images.grad) > 0


def test_masked_pixels_never_reach_the_predictions():
    # The content under the mask is the target: changing it must not move the predictions at all.
    model = _model(num_proxies=2).eval()
    images, mask = _batch(2)
    changed = images.clone()
    pixel_mask = mask.repeat_interleave(4, 1).repeat_interleave(4, 2).bool().unsqueeze(1).expand_as(images)
    changed[pixel_mask] += 1.0
    changed_visible = images.clone()
    changed_visible[~pixel_mask] += 1.0
    with torch.no_grad():
        first = model(images, mask).predictions
        assert torch.equal(first, model(changed, mask).predictions)
        assert not torch.equal(first, model(changed_visible, mask).predictions)  # visible content does matter


def test_without_bottleneck_it_is_joint_attention():
    model = _model(use_bottleneck=False).eval()
    images, mask = _batch()
    with torch.no_grad():
        output = model(images, mask)
        inline = model.encoder.forward_features(images, mask)[:, 1:]  # SimMIM: mask tokens in place, all joint
        reference = torch.gather(inline, 1, output.masked_index.unsqueeze(-1).expand(-1, -1, inline.shape[-1]))
    torch.testing.assert_close(output.predictions, model.head(reference), rtol=1e-5, atol=1e-5)
    assert model.extra_layers is None


def test_cross_attention_on_itself_is_the_block():
    block = _model().extra_layers[0].eval()
    tokens = torch.randn(2, 7, 64)
    with torch.no_grad():
        torch.testing.assert_close(cross_attention_block(block, tokens, tokens), block(tokens), rtol=1e-5,
                                   atol=1e-5)


def test_encoder_checkpoint_loads_into_the_plain_vit():
    model = _model(num_proxies=8)
    weights, unused = split_encoder_weights(model.state_dict())
    plain = create_model("vit_nano", img_size=32, patch_size=4, depth=3).encoder
    load_state_strict(plain, weights, what="semanticmim encoder")
    assert unused == ["extra_layers", "extra_proxy_tokens", "head"]
    images, _ = _batch()
    with torch.no_grad():
        torch.testing.assert_close(plain.forward_features(images), model.encoder.forward_features(images))


def test_hog_orientation_bins_and_dimensions():
    vertical_edge = torch.zeros(1, 1, 32, 32)
    vertical_edge[..., 16:] = 1.0
    cells = hog_cells(vertical_edge)
    # The original's phase atan2(gx, gy): a vertical edge (gy = 0) votes into the middle bin, a horizontal one
    # (gx = 0) into bin 0.
    vertical = cells[0, 0].abs().sum(dim=(1, 2))
    assert int(vertical.argmax()) == 4 and torch.count_nonzero(vertical) == 1
    horizontal = hog_cells(vertical_edge.transpose(2, 3))[0, 0].abs().sum(dim=(1, 2))
    assert int(horizontal.argmax()) == 0 and torch.count_nonzero(horizontal[1:]) == 0
    assert hog_target_dim(16) == 108
    targets = hog_patch_targets(torch.randn(2, 3, 32, 32), 16)
    assert targets.shape == (2, 4, 108)
    norms = targets.view(2, 4, 3, 9, 4).norm(dim=3)  # every cell's histogram has unit length
    torch.testing.assert_close(norms, torch.ones_like(norms), rtol=1e-5, atol=1e-5)
    assert torch.count_nonzero(hog_cells(torch.ones(1, 3, 16, 16))) == 0  # flat image: no gradient, no votes
