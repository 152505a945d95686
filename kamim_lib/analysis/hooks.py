"""Record what submodules output during one forward pass, without changing the model.

Used for the pre/post-attention PCA (SPEC §3): a block's LN1 output (what attention reads) and its attention
output (what attention adds to the residual stream) are not part of ``forward_intermediates``; forward hooks on
``block.norm1`` and ``block.attn`` record them. The hooks live only inside the ``with`` block, so a model is
never left with hooks attached, even when the forward pass raises.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping

import torch
from torch import nn


@contextmanager
def record_outputs(modules: Mapping[str, nn.Module]) -> Iterator[dict[str, torch.Tensor]]:
    """Capture the output of each module during the forward passes run inside the ``with`` block.

    Args:
        modules: name → submodule to watch (e.g. ``{"pre": block.norm1, "post": block.attn}``).

    Yields:
        A dict that fills as the modules run: name → the module's (detached) output of the *last* call.
        A module that never ran has no entry.

    Example::

        with record_outputs({"pre": block.norm1, "post": block.attn}) as outputs:
            model.encoder.forward_features(images)
        pre, post = outputs["pre"], outputs["post"]
    """
    outputs: dict[str, torch.Tensor] = {}
    handles = []

    def keeper(name: str):
        def hook(_module, _inputs, output):
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"module {name!r} returned {type(output).__name__}, not a tensor; watch a module "
                                 "whose output is a single tensor.")
            outputs[name] = output.detach()
        return hook

    try:
        for name, module in modules.items():
            if not isinstance(module, nn.Module):
                raise ValueError(f"modules[{name!r}] must be an nn.Module, got {type(module).__name__}.")
            handles.append(module.register_forward_hook(keeper(name)))
        yield outputs
    finally:
        for handle in handles:
            handle.remove()
