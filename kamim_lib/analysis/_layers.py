"""Argument checks for the per-layer helpers, which take one tensor per block."""
from __future__ import annotations

from typing import Sequence

import torch


def layer_list(layers, name: str) -> list[torch.Tensor]:
    """Check ``layers`` is a non-empty sequence of tensors (one per layer) and return it as a list."""
    if isinstance(layers, torch.Tensor) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError(f"{name} must be a non-empty list with one tensor per layer; for a single layer call the "
                         "per-tensor function instead.")
    for index, layer in enumerate(layers):
        if not isinstance(layer, torch.Tensor):
            raise ValueError(f"{name}[{index}] is {type(layer).__name__}, not a tensor (attention is only recorded "
                             "by forward_intermediates(..., return_attention=True)).")
    return list(layers)


def per_layer(value, num_layers: int, name: str) -> list:
    """Broadcast one value to every layer, or check a sequence has exactly one value per layer."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != num_layers:
            raise ValueError(f"{name} has {len(value)} entries but there are {num_layers} layers; give one value "
                             "or one per layer.")
        return list(value)
    return [value] * num_layers
