"""Per-layer results as JSON-friendly columns, the format the analysis notebooks write."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch


def _plain(value):
    """A tensor/array/number as nested Python floats; NaN and ±inf become None (JSON has no such numbers)."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"per-layer values must be numbers, got the bool {value!r}.")
    number = float(value)
    return number if math.isfinite(number) else None


def per_layer_rows(values, layers: Sequence[int | str] | None = None, first_layer: int = 1) -> dict[str, list]:
    """Columns ``{"layer": [...], "value": [...]}`` for one per-layer curve.

    Args:
        values: one value per layer: a tensor/array (L,) or (L, heads), or a list of numbers or of (heads,) tensors.
        layers: the layer labels; None numbers them ``first_layer, first_layer + 1, …`` (SPEC §3 numbers blocks
            from 1; the Fourier curve starts with the embedding output, e.g. ``layers=["x", 1, 2, …]``).
        first_layer: first label when ``layers`` is None.

    Returns:
        dict with ``layer`` (L labels) and ``value`` (L floats, or L lists for per-head values); non-finite
        numbers are written as None.
    """
    if isinstance(values, (torch.Tensor, np.ndarray)):
        if values.ndim == 0:
            raise ValueError("values must hold one entry per layer, got a scalar.")
        values = list(values)
    values = [_plain(v) for v in values]
    if layers is None:
        layers = list(range(first_layer, first_layer + len(values)))
    layers = list(layers)
    if len(layers) != len(values):
        raise ValueError(f"layers has {len(layers)} labels but values has {len(values)} entries.")
    return {"layer": layers, "value": values}
