"""PSS token dropping (PEERS §3.9): keep counts, d = 0 identity, gathered RPB, permutation invariance, schedules,
validation at d = 0."""
from __future__ import annotations

import pytest
import torch

from kamim_lib.engine.heads import FinetuneClassifier
from kamim_lib.engine.pss_classifier import TokenDropClassifier, dynamic_inference_sweep
from kamim_lib.models import create_model
from kamim_lib.models.pss import (TokenDrop, applied_drop_ratio, cosine_drop_ratio, cyclic_drop_ratio, keep_count,
                                  keep_indices, linear_drop_ratio, quantize_drop_ratio, scheduled_drop_ratio,
                                  score_patch_tokens)
from kamim_lib.models.relative_position_bias import RelativePositionBias, relative_position_index
from kamim_lib.runtime import create_runtime


def _encoder(relative_position_bias: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    encoder = create_model("vit_nano", img_size=32, patch_size=4,
                           relative_position_bias=relative_position_bias).encoder
    if relative_position_bias:  # a trained-looking bias, so the tests see it (it starts at zero)
        for module in encoder.relative_position_bias:
            torch.nn.init.normal_(module.relative_position_bias_table, std=0.5)
    return encoder.eval()


def _images(batch: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("drop_ratio, kept", [(0.0, 196), (0.2, 157), (0.4, 117), (0.6, 78), (0.8, 38)])
def test_keep_counts_vit_b(drop_ratio, kept):
    assert keep_count(196, drop_ratio) == kept


def test_keep_counts_toy_grid_and_bad_ratio():
    # N + 1 = 65 (8 x 8 patches): PEERS's measured 65 / 52 / 39 / 26 / 13 sequence lengths.
    assert [keep_count(64, d) + 1 for d in (0, .2, .4, .6, .8)] == [65, 52, 39, 26, 13]
    with pytest.raises(ValueError, match="drop_ratio"):
        keep_count(64, 1.0)


def test_schedule_golden_values():
    per_epoch, total = 10, 30
    cyclic = [cyclic_drop_ratio(t, total, per_epoch) for t in range(total + 2)]
    assert cyclic[0] == 0.8 and cyclic[5] == 0.0 and cyclic[10] == 0.8 and cyclic[15] == 0.0
    assert cyclic[30] == 0.0 and cyclic[31] == 0.0  # after the end
    assert cyclic[1] == 0.6  # u = 0.2: 0.8·0.8 − 0.2·0.1 = 0.62 → 0.6
    assert linear_drop_ratio(0, 100) == 0.8 and linear_drop_ratio(50, 100) == 0.4  # 0.35 → 0.4
    assert linear_drop_ratio(99, 100) == 0.0 and linear_drop_ratio(100, 100) == 0.0
    assert cosine_drop_ratio(0, 100) == 0.8 and cosine_drop_ratio(50, 100) == 0.4
    assert quantize_drop_ratio(0.29) == 0.2 and quantize_drop_ratio(-0.3) == 0.0 and quantize_drop_ratio(1.4) == 1.0
    # "Fixed(0.6)" keep rate = linear with start = end = 0.4
    assert {linear_drop_ratio(t, 10, start=0.4, end=0.4) for t in range(10)} == {0.4}
    assert scheduled_drop_ratio("none", 3, total_steps=10, steps_per_epoch=5) == 0.0


def test_applied_ratio_lags_one_step_as_pss():
    kwargs = dict(total_steps=20, steps_per_epoch=10)
    assert applied_drop_ratio("cyclic", 0, **kwargs) == 0.0  # the model's initial ratio
    assert applied_drop_ratio("cyclic", 1, **kwargs) == scheduled_drop_ratio("cyclic", 0, **kwargs) == 0.8
    assert applied_drop_ratio("cyclic", 6, **kwargs) == scheduled_drop_ratio("cyclic", 5, **kwargs)


def test_relative_position_index_known_entries():
    index = relative_position_index(2)  # 4 patches, span 3: 9 patch entries + cls entries 9, 10, 11
    assert index[0, 0] == 11 and index[0, 1] == 9 and index[1, 0] == 10
    assert index[1, 1] == 4  # zero offset is the centre of the 3 x 3 table
    assert index[1, 4] == 0 and index[4, 1] == 8  # patch (0,0) vs (1,1): offset (−1,−1) and (1,1)


def test_gathered_bias_equals_direct_indexing():
    torch.manual_seed(0)
    bias = RelativePositionBias(grid=4, num_heads=3)
    torch.nn.init.normal_(bias.relative_position_bias_table)
    keep = torch.stack([torch.cat([torch.zeros(1, dtype=torch.long), torch.randperm(16)[:7] + 1]) for _ in range(2)])
    gathered = bias(keep)
    full = bias.full()
    for sample in range(2):
        direct = full[:, keep[sample]][:, :, keep[sample]]
        assert torch.equal(gathered[sample], direct)


def test_drop_zero_is_the_plain_model():
    encoder = _encoder()
    images = _images()
    plain = FinetuneClassifier(encoder, 5).eval()
    torch.manual_seed(3)
    dropping = TokenDropClassifier(encoder, 5, token_drop=TokenDrop("l1", patch_size=4)).eval()
    dropping.head.load_state_dict(plain.head.state_dict())
    with torch.no_grad():
        assert torch.equal(dropping(images), plain(images))
        # and keeping every token through the gather path gives the same logits up to float reordering
        tokens = encoder.embed(images)
        keep = keep_indices(score_patch_tokens(tokens[:, 1:], "l1"), 64)
        pooled = encoder.forward_tokens(tokens, keep)[:, 1:].mean(1)
        reference = encoder.forward_features(images)[:, 1:].mean(1)
    torch.testing.assert_close(pooled, reference, rtol=1e-5, atol=1e-5)


def test_permuting_kept_tokens_leaves_pooled_output_unchanged():
    encoder = _encoder()
    images = _images()
    with torch.no_grad():
        tokens = encoder.embed(images)
        keep = keep_indices(score_patch_tokens(tokens[:, 1:], "l1"), keep_count(64, 0.4))
        permuted = torch.cat([keep[:, :1], keep[:, 1:].flip(1)], dim=1)
        first = encoder.forward_tokens(tokens, keep)
        second = encoder.forward_tokens(tokens, permuted)
    torch.testing.assert_close(first[:, 1:].mean(1), second[:, 1:].mean(1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(first[:, 0], second[:, 0], rtol=1e-5, atol=1e-5)
    # without the gathered bias (wrong positions) the output changes: the test can fail
    shuffled = encoder.relative_position_bias[0].relative_position_bias_table.detach().clone()
    encoder.relative_position_bias[0].relative_position_bias_table.data = shuffled.flip(0)
    with torch.no_grad():
        assert not torch.allclose(encoder.forward_tokens(tokens, keep)[:, 1:].mean(1), first[:, 1:].mean(1))


def test_scorers_keep_the_highest_scores():
    tokens = torch.zeros(1, 5, 2)
    tokens[0, 1:, 0] = torch.tensor([1.0, -4.0, 2.0, 0.5])
    keep = keep_indices(score_patch_tokens(tokens[:, 1:], "l1"), 2)
    assert keep.tolist() == [[0, 2, 3]]  # CLS, then |−4|, then 2: score order, not spatial order
    assert score_patch_tokens(tokens[:, 1:], "l2")[0].tolist() == [1.0, 16.0, 4.0, 0.25]
    assert score_patch_tokens(tokens[:, 1:], "random").shape == (1, 4)
    with pytest.raises(ValueError, match="pss_scorer"):
        score_patch_tokens(tokens[:, 1:], "gate")


def test_keypoint_scorer_prefers_textured_patches():
    from kamim_lib.data import normalize_on_device

    pixels = torch.full((1, 3, 32, 32), 128, dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    pixels[:, :, 8:16, 20:28] = torch.randint(0, 256, (1, 1, 8, 8), generator=generator, dtype=torch.uint8) \
        .repeat_interleave(1, 0).expand(1, 3, 8, 8)
    images = normalize_on_device(pixels)
    tokens = torch.zeros(1, 65, 4)
    keep = TokenDrop("keypoints", patch_size=4).keep_index(tokens, images, drop_ratio=0.9)
    rows, cols = (keep[0, 1:] - 1) // 8, (keep[0, 1:] - 1) % 8
    assert keep.shape == (1, keep_count(64, 0.9) + 1)
    assert ((rows >= 1) & (rows <= 4) & (cols >= 4) & (cols <= 7)).all()  # the kept patches lie on the texture


def test_dropping_runs_fewer_tokens_and_trains():
    encoder = _encoder().train()
    model = TokenDropClassifier(encoder, 4, token_drop=TokenDrop("l1", patch_size=4))
    model.set_drop_ratio(0.6)
    seen = []
    hook = encoder.blocks[0].register_forward_hook(lambda module, inputs, output: seen.append(output.shape[1]))
    loss = model(_images()).logsumexp(-1).mean()
    loss.backward()
    hook.remove()
    assert seen == [keep_count(64, 0.6) + 1]
    assert encoder.relative_position_bias[0].relative_position_bias_table.grad.abs().sum() > 0


def test_validation_forces_drop_zero_and_sweep_reports_each_ratio():
    encoder = _encoder()
    model = TokenDropClassifier(encoder, 3, token_drop=TokenDrop("l1", patch_size=4))
    images, labels = _images(6), torch.tensor([0, 1, 2, 0, 1, 2])
    batches = [{"image": images, "label": labels}]
    runtime = create_runtime("cpu", "fp32")
    model.set_drop_ratio(0.8)
    seen = []
    hook = encoder.blocks[0].register_forward_hook(lambda module, inputs, output: seen.append(output.shape[1]))
    with model.drop_ratio_set_to(0.0):
        model.eval()
        model(images)
    assert model.drop_ratio == 0.8 and seen == [65]
    rows = dynamic_inference_sweep(model, batches, runtime, drop_ratios=(0.0, 0.4), repeats=1)
    hook.remove()
    assert [row["tokens"] for row in rows] == [65, 39] and all(row["images_per_s"] > 0 for row in rows)
    assert all(row["count"] == 6 for row in rows) and model.drop_ratio == 0.8
