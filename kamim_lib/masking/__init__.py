"""Masking strategies as plug-ins, and the mask arithmetic they share.

- :class:`RandomCellMask` / :func:`random_cell_masks`: SimMIM's geometry and random cells (SPEC §1.1).
- :func:`attention_guided_mask`: AttMask's high / low / hint selection from a saliency per cell (PEERS §2).
- :func:`density_guided_mask`: cells chosen by keypoint density (highest, lowest, or sampled ∝ density^β).
- the registry: ``masking=random`` (in the loader), ``attmask`` and ``density`` (on the device); see
  :class:`~kamim_lib.masking.base.MaskingStrategy` for adding one (one file plus its test).
"""
from kamim_lib.masking import random_cells
from kamim_lib.masking.attention import attention_guided_mask
from kamim_lib.masking.base import MaskingStrategy
from kamim_lib.masking.cells import (RandomCellMask, cells_to_tokens, num_masked_cells, random_cell_masks,
                                     tokens_to_cells)
from kamim_lib.masking.density import density_guided_mask
from kamim_lib.masking.registry import MASKING_STRATEGIES, list_masking_strategies, register_masking
from kamim_lib.plugins.registry import options_of


def get_masking(name: str) -> type[MaskingStrategy]:
    """The masking strategy class registered as ``name`` (ValueError naming the known ones otherwise)."""
    return MASKING_STRATEGIES.get(name)


def build_masking(config, *, patch_size: int) -> MaskingStrategy:
    """The strategy that ``config.masking`` names, with its options and the configured mask geometry."""
    cls = get_masking(config.masking)
    geometry = RandomCellMask(input_size=config.img_size, mask_patch_size=config.mask_patch_size,
                              model_patch_size=patch_size, mask_ratio=config.mask_ratio)
    return cls(options_of(cls, config), geometry=geometry)


__all__ = ["MASKING_STRATEGIES", "MaskingStrategy", "RandomCellMask", "attention_guided_mask", "build_masking",
           "cells_to_tokens", "density_guided_mask", "get_masking", "list_masking_strategies", "num_masked_cells",
           "random_cell_masks", "register_masking", "tokens_to_cells"]
