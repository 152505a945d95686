"""Convert HF-transformers ``ViTForMaskedImageModeling`` / ``SwinForMaskedImageModeling`` state dicts (the
original's checkpoints) to this package's key names.

Both spellings are understood: transformers 4.38 (what the original used; ``vit.encoder.layer.N.attention.
attention.query``, ``swin...attention.self.query``, ``intermediate.dense``, ``output.dense``) and transformers 5
(``vit.layers.N.attention.q_proj``, ``attention.o_proj``, ``mlp.fc1``). What changes on the way:

* q, k and v (weight and bias) are concatenated along the output dimension into timm's fused ``attn.qkv``;
* HF Swin's patch merging ``layers.S.downsample`` sits at the end of stage S, timm's at the start of stage S+1;
  the 2x2 neighbour order inside it is the same in both, so its weights are copied unchanged;
* HF Swin's persistent ``relative_position_index`` buffer (4.38) is checked against timm's index and dropped
  (timm recomputes it);
* ``decoder.0`` (the 1x1 conv) becomes ``decoder.proj``.

Keys it does not recognise pass through unchanged, so a strict load reports them by their original names.
"""
from __future__ import annotations

import re
from typing import Dict, Optional

import math

import torch
from timm.models.swin_transformer import get_relative_position_index

StateDict = Dict[str, torch.Tensor]

_VIT_TOP_LEVEL = {
    "vit.embeddings.cls_token": "encoder.cls_token",
    "vit.embeddings.mask_token": "encoder.mask_token",
    "vit.embeddings.position_embeddings": "encoder.pos_embed",
    "vit.embeddings.patch_embeddings.projection.weight": "encoder.patch_embed.proj.weight",
    "vit.embeddings.patch_embeddings.projection.bias": "encoder.patch_embed.proj.bias",
    "vit.layernorm.weight": "encoder.norm.weight",
    "vit.layernorm.bias": "encoder.norm.bias",
    "decoder.0.weight": "decoder.proj.weight",
    "decoder.0.bias": "decoder.proj.bias",
}
_SWIN_TOP_LEVEL = {
    "swin.embeddings.mask_token": "encoder.mask_token",
    "swin.embeddings.patch_embeddings.projection.weight": "encoder.patch_embed.proj.weight",
    "swin.embeddings.patch_embeddings.projection.bias": "encoder.patch_embed.proj.bias",
    "swin.embeddings.norm.weight": "encoder.patch_embed.norm.weight",
    "swin.embeddings.norm.bias": "encoder.patch_embed.norm.bias",
    "swin.layernorm.weight": "encoder.norm.weight",
    "swin.layernorm.bias": "encoder.norm.bias",
    "decoder.0.weight": "decoder.proj.weight",
    "decoder.0.bias": "decoder.proj.bias",
}
# Inside a transformer block: HF module path (4.38 and 5.x spellings) -> timm module path.
_BLOCK_MODULES = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "mlp.fc1": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "mlp.fc2": "mlp.fc2",
}
_BLOCK_PARAMETERS = {
    "attention.self.relative_position_bias_table": "attn.relative_position_bias_table",
    "attention.relative_position_bias.relative_position_bias_table": "attn.relative_position_bias_table",
}
# q/k/v projections -> their slot in timm's fused qkv.
_QKV_SLOTS = {
    "attention.attention.query": 0, "attention.attention.key": 1, "attention.attention.value": 2,
    "attention.self.query": 0, "attention.self.key": 1, "attention.self.value": 2,
    "attention.q_proj": 0, "attention.k_proj": 1, "attention.v_proj": 2,
}
_DROPPED_BLOCK_BUFFERS = ("attention.self.relative_position_index", "attention.relative_position_index")

_VIT_BLOCK = re.compile(r"^vit\.(?:encoder\.layer|encoder\.layers|layers)\.(\d+)\.(.+)$")
_SWIN_BLOCK = re.compile(r"^swin\.encoder\.layers\.(\d+)\.blocks\.(\d+)\.(.+)$")
_SWIN_MERGE = re.compile(r"^swin\.encoder\.layers\.(\d+)\.downsample\.(reduction\.weight|norm\.weight|norm\.bias)$")


def detect_checkpoint_format(state_dict: StateDict) -> str:
    """Which layout a state dict has.

    Returns:
        "hf_vit" (ViTForMaskedImageModeling), "hf_swin" (SwinForMaskedImageModeling), "kamim_vit" / "kamim_swin"
        (this package's ``MaskedImageModel``) or "unknown".
    """
    keys = list(state_dict)
    if any(key.startswith("vit.") for key in keys):
        return "hf_vit"
    if any(key.startswith("swin.") for key in keys):
        return "hf_swin"
    if any(key.startswith("encoder.blocks.") for key in keys):
        return "kamim_vit"
    if any(key.startswith("encoder.layers.") for key in keys):
        return "kamim_swin"
    return "unknown"


def checkpoint_family(state_dict: StateDict) -> Optional[str]:
    """"vit", "swin" or None (unrecognised layout)."""
    fmt = detect_checkpoint_format(state_dict)
    return None if fmt == "unknown" else fmt.split("_")[1]


def _convert_block(prefix: str, rest: str, value: torch.Tensor, out: StateDict, qkv_parts: dict,
                   original_key: str) -> None:
    """Map one parameter of one HF block (``rest`` relative to the block) into ``out`` / ``qkv_parts``."""
    if rest in _BLOCK_PARAMETERS:
        out[f"{prefix}.{_BLOCK_PARAMETERS[rest]}"] = value
        return
    if rest in _DROPPED_BLOCK_BUFFERS:
        _check_relative_position_index(original_key, value)
        return
    module, _, parameter = rest.rpartition(".")
    if module in _BLOCK_MODULES:
        out[f"{prefix}.{_BLOCK_MODULES[module]}.{parameter}"] = value
    elif module in _QKV_SLOTS:
        qkv_parts.setdefault((prefix, parameter), {})[_QKV_SLOTS[module]] = (original_key, value)
    else:
        out[original_key] = value


def _check_relative_position_index(key: str, index: torch.Tensor) -> None:
    """HF's index must be the one timm rebuilds, or the bias tables would be read in another order."""
    window = math.isqrt(index.shape[0])
    if index.ndim != 2 or window * window != index.shape[0] or not torch.equal(
            index.long(), get_relative_position_index(window, window)):
        raise ValueError(f"{key} is not the standard Swin relative position index of a {window}x{window} window; "
                         "this checkpoint's relative position layout is not supported.")


def _fuse_qkv(qkv_parts: dict, out: StateDict) -> None:
    """Concatenate q, k, v into ``<block>.attn.qkv.<weight|bias>``; incomplete triples stay under HF names."""
    for (prefix, parameter), slots in qkv_parts.items():
        if sorted(slots) == [0, 1, 2]:
            out[f"{prefix}.attn.qkv.{parameter}"] = torch.cat([slots[i][1] for i in range(3)], dim=0)
        else:
            for original_key, value in slots.values():
                out[original_key] = value


def convert_hf_vit_state_dict(state_dict: StateDict) -> StateDict:
    """HF ``ViTForMaskedImageModeling`` state dict -> ``MaskedImageModel`` (ViT) state dict."""
    out: StateDict = {}
    qkv_parts: dict = {}
    for key, value in state_dict.items():
        if key in _VIT_TOP_LEVEL:
            out[_VIT_TOP_LEVEL[key]] = value
            continue
        match = _VIT_BLOCK.match(key)
        if match is None:
            out[key] = value
            continue
        block, rest = match.groups()
        _convert_block(f"encoder.blocks.{block}", rest, value, out, qkv_parts, key)
    _fuse_qkv(qkv_parts, out)
    return out


def convert_hf_swin_state_dict(state_dict: StateDict) -> StateDict:
    """HF ``SwinForMaskedImageModeling`` state dict -> ``MaskedImageModel`` (Swin) state dict."""
    out: StateDict = {}
    qkv_parts: dict = {}
    for key, value in state_dict.items():
        if key in _SWIN_TOP_LEVEL:
            out[_SWIN_TOP_LEVEL[key]] = value
            continue
        merge = _SWIN_MERGE.match(key)
        if merge is not None:
            stage, parameter = merge.groups()
            # HF merges at the end of stage S; timm at the start of stage S + 1.
            out[f"encoder.layers.{int(stage) + 1}.downsample.{parameter}"] = value
            continue
        match = _SWIN_BLOCK.match(key)
        if match is None:
            out[key] = value
            continue
        stage, block, rest = match.groups()
        _convert_block(f"encoder.layers.{stage}.blocks.{block}", rest, value, out, qkv_parts, key)
    _fuse_qkv(qkv_parts, out)
    return out


def convert_hf_state_dict(state_dict: StateDict) -> StateDict:
    """Convert an HF ViT or Swin masked-image-modelling state dict; this package's own passes through.

    Raises:
        ValueError: the layout is neither HF ViT/Swin nor this package's.
    """
    fmt = detect_checkpoint_format(state_dict)
    if fmt == "hf_vit":
        return convert_hf_vit_state_dict(state_dict)
    if fmt == "hf_swin":
        return convert_hf_swin_state_dict(state_dict)
    if fmt.startswith("kamim"):
        return dict(state_dict)
    sample = ", ".join(list(state_dict)[:5])
    raise ValueError(f"state_dict is neither an HF ViT/Swin ForMaskedImageModeling checkpoint nor a kamim "
                     f"MaskedImageModel one (first keys: {sample}).")
