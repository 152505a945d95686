"""MoCo v3 ViT-B as the contrastive reference of the analysis (the paper's Figures 3–5), loaded strictly.

MoCo v3 (Chen, Xie & He 2021; facebookresearch/moco-v3 ``vits.py``) is a timm ``VisionTransformer``: patch 16,
CLS token, LayerNorm eps 1e-6, q/k/v fused in ``attn.qkv``, and a fixed 2-D sin-cos position embedding (stored
in the checkpoint as ``pos_embed``, zeros in the CLS slot). Its training checkpoints (``vit-b-300ep.pth.tar``) hold
``{"epoch", "arch", "state_dict", "optimizer"}``; under ``state_dict`` the encoder's keys start with
``module.base_encoder.`` (its ``head`` is the contrastive projection MLP), beside ``module.momentum_encoder.*`` and
``module.predictor.*``. It is trained and analysed at 224 px: 14 × 14 tokens of 16 px.

Its encoder keys are timm's, which are the names of ``kamim_lib``'s ``MaskedViTEncoder``, so the converted model
is a ``MaskedImageModel`` that every analysis function accepts. Two parts of that model have no MoCo counterpart:
the mask token (zeros; the analysis feeds MoCo unmasked images, where it is never used) and the SimMIM decoder (so
a MoCo model does not reconstruct: ``is_moco_v3_model`` tells the reconstruction notebook to leave it out).
Everything else must come from the checkpoint: a missing or unexpected encoder key is an error.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Dict, Union

import torch
from torch import nn

from kamim_lib.models import StateDictMismatchError, create_model
from kamim_paper.original.moco_format import MOCO_ENCODER_PREFIX, MOCO_HEAD_PREFIX, MOCO_STATE_DICT_KEY

MOCO_IMG_SIZE = 224
MOCO_LAYER_NORM_EPS = 1e-6
# Parts of kamim's MaskedImageModel that MoCo v3 has no weights for (see the module docstring).
_NOT_IN_MOCO = ("encoder.mask_token",)
_NOT_IN_MOCO_PREFIXES = ("decoder.",)
_MOCO_FLAG = "moco_v3"


def sincos_position_embedding(grid: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """MoCo v3's fixed 2-D sin-cos position embedding, with a zero CLS slot first.

    Token m (row-major over the g × g grid) has coordinates (a, b) = (m // g, m % g); its embedding is
    [sin(a·ω), cos(a·ω), sin(b·ω), cos(b·ω)] with ω_i = temperature^(−i / (D/4)), i = 0 … D/4 − 1.

    Args:
        grid: g, tokens per side.
        dim: D, a multiple of 4.

    Returns:
        float32 (1, 1 + g², D).
    """
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4 for a 2-D sin-cos embedding, got {dim}.")
    index = torch.arange(grid * grid, dtype=torch.float32)
    first, second = torch.div(index, grid, rounding_mode="floor"), index % grid
    omega = 1.0 / temperature ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))
    first, second = first[:, None] * omega[None], second[:, None] * omega[None]
    patches = torch.cat([first.sin(), first.cos(), second.sin(), second.cos()], dim=1)
    return torch.cat([torch.zeros(1, dim), patches])[None]


def moco_v3_encoder_state_dict(checkpoint) -> Dict[str, torch.Tensor]:
    """The base encoder's weights in ``MaskedImageModel`` key names (``encoder.*``), projection head dropped.

    Args:
        checkpoint: a MoCo v3 checkpoint object (weights under "state_dict"), or that state dict itself.

    Raises:
        ValueError: no ``module.base_encoder.`` key (not a MoCo v3 checkpoint).
    """
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(MOCO_STATE_DICT_KEY), Mapping):
        checkpoint = checkpoint[MOCO_STATE_DICT_KEY]
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"a MoCo v3 checkpoint must be a mapping, got {type(checkpoint).__name__}.")
    encoder = {key[len(MOCO_ENCODER_PREFIX):]: value for key, value in checkpoint.items()
               if str(key).startswith(MOCO_ENCODER_PREFIX)}
    if not encoder:
        sample = ", ".join(map(str, list(checkpoint)[:5]))
        raise ValueError(f"no {MOCO_ENCODER_PREFIX!r} keys: this is not a MoCo v3 checkpoint (first keys: {sample}).")
    return {f"encoder.{key}": value for key, value in encoder.items() if not key.startswith(MOCO_HEAD_PREFIX)}


def moco_v3_model(name: str = "vit_b", img_size: int = MOCO_IMG_SIZE):
    """An untrained ``MaskedImageModel`` shaped like MoCo v3's encoder: ``name``'s width/depth/heads at
    ``img_size`` px, LayerNorm eps 1e-6, the sin-cos position embedding (frozen), flagged as MoCo v3."""
    model = create_model(name, img_size=img_size)
    if model.family != "vit":
        raise ValueError(f"MoCo v3 is a ViT; name={name!r} is a {model.family} model (use e.g. 'vit_b').")
    for module in model.encoder.modules():
        if isinstance(module, nn.LayerNorm):
            module.eps = MOCO_LAYER_NORM_EPS
    with torch.no_grad():
        model.encoder.pos_embed.copy_(sincos_position_embedding(model.token_grid, model.embed_dim))
    model.encoder.pos_embed.requires_grad_(False)
    setattr(model, _MOCO_FLAG, True)
    return model


def is_moco_v3_model(model: nn.Module) -> bool:
    """True for a model built by ``moco_v3_model`` / ``load_moco_v3`` (it has no trained decoder)."""
    return bool(getattr(model, _MOCO_FLAG, False))


def load_moco_v3_state_dict(model: nn.Module, checkpoint) -> None:
    """Load a MoCo v3 checkpoint object into ``moco_v3_model(...)`` strictly (encoder keys only).

    Raises:
        ValueError: missing, unexpected or mis-shaped encoder keys, listed.
    """
    converted = moco_v3_encoder_state_dict(checkpoint)
    expected = {key: value for key, value in model.state_dict().items()
                if key not in _NOT_IN_MOCO and not key.startswith(_NOT_IN_MOCO_PREFIXES)}
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    mismatched = [f"{key} {tuple(value.shape)} vs {tuple(expected[key].shape)}" for key, value in converted.items()
                  if key in expected and value.shape != expected[key].shape]
    if missing or unexpected or mismatched:
        parts = [f"{title} ({len(keys)}): {', '.join(keys[:10])}" for title, keys in
                 (("missing", missing), ("unexpected", unexpected), ("shape mismatches (checkpoint vs model)",
                                                                     mismatched)) if keys]
        raise StateDictMismatchError(
            f"MoCo v3 checkpoint does not match a {model.name} encoder at {model.img_size} px: " + "; ".join(parts)
            + ". Pass the registry name of its size (vit_b for MoCo v3 ViT-B) and img_size=224.")
    model.load_state_dict(converted, strict=False)


def load_moco_v3(path: Union[str, os.PathLike], name: str = "vit_b", img_size: int = MOCO_IMG_SIZE):
    """Read a MoCo v3 checkpoint file (``vit-b-300ep.pth.tar``) and load its base encoder strictly.

    Args:
        path: the file (read with ``torch.load(weights_only=True)``).
        name: registry name of the encoder size ("vit_b" for MoCo v3 ViT-B/16).
        img_size: input side (224 for MoCo v3: 14 × 14 tokens).

    Returns:
        A ``MaskedImageModel`` (eval mode, CPU) with ``is_moco_v3_model(model)`` True.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"MoCo v3 checkpoint {str(path)!r} does not exist.")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = moco_v3_model(name, img_size)
    load_moco_v3_state_dict(model, checkpoint)
    return model.eval()
