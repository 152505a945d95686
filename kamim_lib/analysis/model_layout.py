"""Where the blocks of a ``MaskedImageModel`` sit, for per-layer analysis of ViT and Swin alike.

Layers are numbered as in SPEC §3: block 1 is the first transformer block, so the hidden state after block k is
``EncoderIntermediates.hidden_states[k]`` and ``hidden_states[0]`` is the embedding output ("x" in the Fourier
figure). Swin blocks are numbered straight through the stages (Swin-T: blocks 1–12 over depths 2-2-6-2).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn


def encoder_blocks(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks of ``model.encoder`` in forward order (ViT ``blocks``; Swin every stage's blocks)."""
    encoder = model.encoder
    if hasattr(encoder, "blocks"):
        return list(encoder.blocks)
    if hasattr(encoder, "layers"):
        return [block for stage in encoder.layers for block in stage.blocks]
    raise ValueError(f"model.encoder ({type(encoder).__name__}) has neither ViT 'blocks' nor Swin 'layers'; "
                     "pass a kamim_lib.models.MaskedImageModel.")


def block_token_sizes(model: nn.Module) -> list[int]:
    """Pixels per token side at each block: the patch size for ViT; patch size · 2^stage for Swin.

    Returns:
        One int per block (length = number of blocks).
    """
    encoder = model.encoder
    if hasattr(encoder, "blocks"):
        return [model.patch_size] * len(encoder.blocks)
    return [model.patch_size * 2 ** stage for stage, layer in enumerate(encoder.layers) for _ in layer.blocks]


def check_block(model: nn.Module, block: int, name: str = "block") -> int:
    """Check ``block`` is a block number 1 … L (or −1 for the last) and return it as 1 … L."""
    count = len(encoder_blocks(model))
    if block == -1:
        return count
    if isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= count:
        raise ValueError(f"{name} must be a block number in 1..{count} (blocks are numbered from 1; -1 = the last "
                         f"block), got {block!r}.")
    return block


def check_hidden_layer(model: nn.Module, layer: int, name: str = "layer") -> int:
    """Check ``layer`` indexes ``hidden_states``: 0 = embedding output, k = output of block k, −1 = the last."""
    count = len(encoder_blocks(model))
    if layer == -1:
        return count
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= count:
        raise ValueError(f"{name} must be in 0..{count} (0 = embedding output, k = output of block k, -1 = the "
                         f"last block), got {layer!r}.")
    return layer


@contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the ``with`` block and restore its previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
