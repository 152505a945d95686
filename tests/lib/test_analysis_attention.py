import itertools
import math

import numpy as np
import pytest
import torch

from kamim_lib.analysis import (attention_map, attention_nmi, attention_nmi_per_layer, mean_attention_distance,
                                mean_attention_distance_per_layer, patch_attention, token_distance_matrix)

GRID, PATCH = 12, 16
N = GRID * GRID
# 16 px · mean Euclidean distance over all 144² (query, key) pairs of a 12 x 12 grid, self pairs included.
UNIFORM_12X12_16PX = 99.75292158108084


def uniform(batch=2, heads=3, tokens=N + 1):
    return torch.full((batch, heads, tokens, tokens), 1.0 / tokens)


def identity(batch=2, heads=3, tokens=N + 1):
    return torch.eye(tokens).expand(batch, heads, tokens, tokens).clone()


def random_attention(batch=2, heads=3, tokens=N + 1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, heads, tokens, tokens, generator=generator).mul(3).softmax(dim=-1)


def with_cls(patches: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """Embed patch attention in a CLS-prefixed map: the CLS row is arbitrary, each patch row puts an arbitrary
    share of its mass on CLS and the rest on patches in the original proportions."""
    batch, heads, tokens, _ = patches.shape
    generator = torch.Generator().manual_seed(seed)
    full = torch.zeros(batch, heads, tokens + 1, tokens + 1, dtype=patches.dtype)
    cls_share = torch.rand(batch, heads, tokens, generator=generator) * 0.9
    full[:, :, 1:, 0] = cls_share
    full[:, :, 1:, 1:] = patches * (1 - cls_share).unsqueeze(-1)
    full[:, :, 0] = torch.rand(batch, heads, tokens + 1, generator=generator).softmax(dim=-1)
    return full


def test_uniform_attention_distance_is_the_mean_pairwise_grid_distance():
    positions = np.array(list(itertools.product(range(GRID), range(GRID))), dtype=float)
    brute_force = np.mean([math.dist(p, q) for p in positions for q in positions]) * PATCH
    assert brute_force == pytest.approx(UNIFORM_12X12_16PX, abs=1e-9)
    distances = mean_attention_distance(uniform(), PATCH)
    assert distances.shape == (3,)
    assert torch.allclose(distances, torch.full((3,), UNIFORM_12X12_16PX), atol=1e-2)
    assert distances[0].item() == pytest.approx(99.75, abs=0.01)  # SPEC's "about 99.75 px"


def test_identity_attention_has_zero_distance_and_unit_nmi():
    assert torch.allclose(mean_attention_distance(identity(), PATCH), torch.zeros(3))
    assert torch.allclose(attention_nmi(identity()), torch.ones(3), atol=1e-6)


def test_uniform_attention_has_zero_nmi():
    assert torch.allclose(attention_nmi(uniform()), torch.zeros(3), atol=1e-5)


def test_neighbour_permutation_is_fully_informative_but_one_patch_away():
    # Every query attends only to the token to its right (wrapping within the row): distance exactly one patch
    # except at the wrap, and NMI 1 because the key identifies the query.
    grid = 4
    target = [(r * grid + (c + 1) % grid) for r in range(grid) for c in range(grid)]
    attn = torch.zeros(1, 1, grid * grid, grid * grid)
    attn[0, 0, torch.arange(grid * grid), torch.tensor(target)] = 1
    expected = PATCH * ((grid - 1) * 1 + (grid - 1)) / grid  # 3 one-step neighbours and one wrap of 3 per row
    assert mean_attention_distance(attn, PATCH, has_cls=False).item() == pytest.approx(expected)
    assert attention_nmi(attn, has_cls=False).item() == pytest.approx(1.0, abs=1e-6)


def test_all_queries_on_one_key_has_zero_nmi_and_distance_to_that_key():
    grid = 5
    attn = torch.zeros(2, 1, grid * grid, grid * grid)
    attn[..., 0] = 1
    assert attention_nmi(attn, has_cls=False).item() == 0.0  # H(k) = 0 → defined as 0, not NaN
    expected = token_distance_matrix(grid, PATCH)[:, 0].mean()
    assert mean_attention_distance(attn, PATCH, has_cls=False).item() == pytest.approx(expected.item())


def test_results_are_averaged_over_images():
    attn = torch.cat((identity(batch=1, heads=2), uniform(batch=1, heads=2)))
    assert torch.allclose(mean_attention_distance(attn, PATCH), torch.full((2,), UNIFORM_12X12_16PX / 2), atol=1e-3)
    assert torch.allclose(attention_nmi(attn), torch.full((2,), 0.5), atol=1e-5)


def test_nmi_matches_the_definition_on_random_attention():
    attn = random_attention(batch=2, heads=2, tokens=10)
    values = attention_nmi(attn, has_cls=False).double()
    a = attn.double().numpy()
    expected = []
    for head in range(2):
        per_image = []
        for image in range(2):
            joint = a[image, head] / a.shape[-2]            # p(q) A_qk with p(q) uniform
            pk = joint.sum(axis=0)
            mi = np.sum(joint * np.log(a[image, head] / pk))
            hq, hk = np.log(a.shape[-2]), -np.sum(pk * np.log(pk))
            per_image.append(mi / np.sqrt(hq * hk))
        expected.append(np.mean(per_image))
    assert np.allclose(values.numpy(), expected, atol=1e-5)


def test_cls_row_and_column_do_not_change_results():
    patches = random_attention(tokens=N)
    full = with_cls(patches)
    assert torch.allclose(patch_attention(full), patches, atol=1e-6)
    assert torch.allclose(mean_attention_distance(full, PATCH), mean_attention_distance(patches, PATCH, has_cls=False),
                          atol=1e-4)
    assert torch.allclose(attention_nmi(full), attention_nmi(patches, has_cls=False), atol=1e-5)
    assert torch.allclose(attention_map(full, 17, 1, GRID), attention_map(patches, 17, 1, GRID, has_cls=False),
                          atol=1e-6)


def test_has_cls_accepts_a_prefix_token_count():
    patches = random_attention(tokens=16)
    two_prefix = with_cls(with_cls(patches, seed=3), seed=4)
    assert torch.allclose(mean_attention_distance(two_prefix, PATCH, has_cls=2),
                          mean_attention_distance(patches, PATCH, has_cls=False), atol=1e-4)
    with pytest.raises(ValueError, match="has_cls"):
        mean_attention_distance(patches, PATCH, has_cls=-1)


def test_every_head_gets_its_own_value():
    attn = torch.cat((identity(heads=1), uniform(heads=1), random_attention(heads=1)), dim=1)
    distances = mean_attention_distance(attn, PATCH)
    nmi = attention_nmi(attn)
    assert distances[0].item() == pytest.approx(0.0, abs=1e-6)
    assert distances[1].item() == pytest.approx(UNIFORM_12X12_16PX, abs=1e-2)
    assert 0 < distances[2].item() < 200 and distances[2] != distances[1]
    assert nmi[0].item() == pytest.approx(1.0, abs=1e-5) and nmi[1].item() == pytest.approx(0.0, abs=1e-5)
    assert 0 < nmi[2].item() < 1


def test_distance_scales_with_patch_size():
    attn = random_attention()
    assert torch.allclose(mean_attention_distance(attn, 32), 2 * mean_attention_distance(attn, 16), rtol=1e-5)


def test_token_distance_matrix_entries():
    distances = token_distance_matrix(3, PATCH)
    assert distances.shape == (9, 9)
    assert torch.allclose(distances, distances.T)
    assert distances[0, 4].item() == pytest.approx(math.sqrt(2) * PATCH)   # (0,0) → (1,1)
    assert distances[2, 6].item() == pytest.approx(math.sqrt(8) * PATCH)   # (0,2) → (2,0)
    assert torch.all(distances.diagonal() == 0)


def test_per_layer_helpers_average_heads_or_keep_them():
    layers = [identity(), uniform(), random_attention()]
    curve = mean_attention_distance_per_layer(layers, PATCH)
    assert curve.shape == (3,)
    assert curve[0].item() == pytest.approx(0.0, abs=1e-6)
    assert curve[1].item() == pytest.approx(UNIFORM_12X12_16PX, abs=1e-2)
    assert curve[2].item() == pytest.approx(mean_attention_distance(layers[2], PATCH).mean().item())
    per_head = attention_nmi_per_layer(layers, per_head=True)
    assert len(per_head) == 3 and per_head[0].shape == (3,)
    assert torch.allclose(attention_nmi_per_layer(layers), torch.stack([v.mean() for v in per_head]))
    # Swin-like: one patch size per stage
    swin = mean_attention_distance_per_layer([uniform(tokens=36)] * 2, [4, 8], has_cls=False)
    assert swin[1].item() == pytest.approx(2 * swin[0].item(), rel=1e-5)


def test_per_layer_helpers_reject_single_tensors_and_missing_attention():
    with pytest.raises(ValueError, match="one tensor per layer"):
        mean_attention_distance_per_layer(uniform(), PATCH)
    with pytest.raises(ValueError, match="return_attention"):
        attention_nmi_per_layer([uniform(), None])
    with pytest.raises(ValueError, match="patch_size"):
        mean_attention_distance_per_layer([uniform()] * 2, [16, 16, 16])


def test_non_square_grid_points_at_has_cls():
    with pytest.raises(ValueError, match="has_cls"):
        mean_attention_distance(uniform(), PATCH, has_cls=False)  # 145 tokens: CLS left in


def test_attention_map_is_the_renormalised_query_row_on_the_grid():
    attn = torch.zeros(1, 2, N + 1, N + 1)
    attn[..., 0] = 0.5                          # half of every row on CLS
    query, key = 3 * GRID + 4, 5 * GRID + 6
    attn[0, 1, 1 + query, 1 + key] = 0.5        # head 1: query (3, 4) looks at (5, 6)
    attn[0, 0, 1:, 1:] += 0.5 / N               # head 0: uniform over patches
    maps = attention_map(attn, query, head=1, grid_size=GRID)
    assert maps.shape == (1, GRID, GRID)
    assert maps[0, 5, 6].item() == pytest.approx(1.0)
    assert maps.sum().item() == pytest.approx(1.0)
    assert torch.equal(attention_map(attn, (3, 4), head=1), maps)     # (row, col) form, grid inferred
    assert torch.allclose(attention_map(attn, query, head=0, grid_size=GRID), torch.full((1, GRID, GRID), 1 / N))


@pytest.mark.parametrize("kwargs, message", [
    (dict(query_index=N, head=0), "query_index"),
    (dict(query_index=(0, GRID), head=0), "query_index"),
    (dict(query_index=0, head=3), "head"),
    (dict(query_index=0, head=0, grid_size=11), "grid_size"),
])
def test_attention_map_rejects_bad_indices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        attention_map(uniform(), **kwargs)


def test_bad_attention_shapes_raise():
    with pytest.raises(ValueError, match="attn"):
        mean_attention_distance(torch.ones(145, 145), PATCH)
    with pytest.raises(ValueError, match="Q == K"):
        attention_nmi(torch.ones(1, 1, 5, 10) / 10)
    with pytest.raises(ValueError, match="patch_size"):
        mean_attention_distance(uniform(), 0)


def test_low_precision_input_is_measured_in_float32_and_float64_is_kept():
    bf16 = mean_attention_distance(uniform().bfloat16(), PATCH)
    assert bf16.dtype == torch.float32
    assert bf16[0].item() == pytest.approx(UNIFORM_12X12_16PX, abs=0.5)
    exact = mean_attention_distance(uniform().double(), PATCH)
    assert exact.dtype == torch.float64
    assert exact[0].item() == pytest.approx(UNIFORM_12X12_16PX, abs=1e-9)
