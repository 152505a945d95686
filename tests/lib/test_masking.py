import math

import numpy as np
import pytest
import torch

from kamim_lib.masking import RandomCellMask, num_masked_cells, random_cell_masks
from kamim_lib.masking.cells import masked_count


@pytest.mark.parametrize("model_patch, grid, tokens_per_cell", [(16, 12, 4), (4, 48, 64)])
def test_single_mask_counts_for_vit_and_swin_grids(model_patch, grid, tokens_per_cell):
    gen = RandomCellMask(input_size=192, mask_patch_size=32, model_patch_size=model_patch, mask_ratio=0.6)
    for seed in range(5):
        mask = gen(np.random.default_rng(seed))
        assert mask.shape == (grid, grid) and mask.dtype == torch.int64
        assert int(mask.sum()) == 22 * tokens_per_cell  # ceil(36 * 0.6) = 22 cells
        # each 32-px cell is either fully masked or fully visible
        scale = 32 // model_patch
        cells = mask.view(6, scale, 6, scale)
        assert torch.all(cells.amin(dim=(1, 3)) == cells.amax(dim=(1, 3)))


def test_num_masked_cells_is_ceil_without_float_noise():
    assert num_masked_cells(192, 32, 0.6) == 22
    assert num_masked_cells(224, 32, 0.6) == math.ceil(49 * 0.6) == 30
    assert num_masked_cells(192, 32, 0.5) == 18  # exact product stays exact


def test_masked_count_rounds_up_or_down_without_float_noise():
    assert masked_count(36, 0.6) == 22 and masked_count(36, 0.6, "floor") == 21
    assert masked_count(100, 0.07) == 7           # 100 * 0.07 = 7.000000000000001: a bare ceil gives 8
    assert masked_count(100, 0.29, "floor") == 29  # 100 * 0.29 = 28.999999999999996: a bare floor gives 28
    with pytest.raises(ValueError, match="rounding='round' is not supported; choose one of ceil, floor"):
        masked_count(36, 0.6, "round")


def test_masks_are_uniform_over_cells():
    gen = RandomCellMask()
    rng = np.random.default_rng(0)
    freq = sum(gen(rng)[::2, ::2].double() for _ in range(3000)) / 3000
    assert torch.allclose(freq, torch.full_like(freq, 22 / 36), atol=0.04)


def test_batched_device_masks_have_exact_counts_and_differ_per_image():
    g = torch.Generator().manual_seed(0)
    masks = random_cell_masks(64, input_size=192, mask_patch_size=32, model_patch_size=16, mask_ratio=0.6,
                              generator=g)
    assert masks.shape == (64, 12, 12) and masks.dtype == torch.int64
    assert torch.all(masks.sum(dim=(1, 2)) == 22 * 4)
    assert len({tuple(m.flatten().tolist()) for m in masks}) == 64


@pytest.mark.parametrize("kwargs, name", [
    (dict(input_size=190), "input_size"),
    (dict(mask_patch_size=24, model_patch_size=16), "mask_patch_size"),
    (dict(mask_ratio=1.5), "mask_ratio"),
    (dict(mask_ratio=0), "mask_ratio"),
])
def test_invalid_geometry_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        RandomCellMask(**kwargs)
    with pytest.raises(ValueError, match=name):
        random_cell_masks(2, **kwargs)
