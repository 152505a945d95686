"""Load the original's HF checkpoints, or this package's, into a ``MaskedImageModel`` — strictly by default.

The original's analysis notebooks loaded with ``strict=False`` and ignored missing keys (SPEC §3), so a model
that never loaded could be analysed. Here a missing, unexpected or mis-shaped key is an error that lists the
keys and says what probably went wrong.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Tuple, Union

import torch

from kamim_lib.models.hf_convert import StateDict, convert_hf_state_dict, detect_checkpoint_format
from kamim_lib.models.mim import MaskedImageModel
from kamim_lib.models.registry import create_model, list_models, model_arch

# Where training scripts commonly nest the model's weights (the original used "model_state_dict").
_NESTING_KEYS = ("model_state_dict", "state_dict", "model")
# Wrappers that prefix every key: DistributedDataParallel and torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# Buffers the model derives from its architecture; a checkpoint need not carry them.
_DERIVED_BUFFER_SUFFIXES = ("relative_position_index", "attn_mask")
_FORMAT_NAMES = {
    "hf_vit": "HF ViTForMaskedImageModeling",
    "hf_swin": "HF SwinForMaskedImageModeling",
    "kamim_vit": "kamim MaskedImageModel (ViT)",
    "kamim_swin": "kamim MaskedImageModel (Swin)",
    "unknown": "unrecognised layout",
}
_LISTED_KEYS = 12


class StateDictMismatchError(ValueError):
    """A checkpoint's keys or shapes do not match the model."""


@dataclass
class LoadReport:
    """What ``load_state_dict_into`` did.

    Attributes:
        source_format: "hf_vit", "hf_swin", "kamim_vit", "kamim_swin" or "unknown".
        missing: model keys the checkpoint did not provide (left at their initial values).
        unexpected: checkpoint keys (after conversion) the model has no place for (ignored).
    """

    source_format: str
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.unexpected


def unwrap_state_dict(checkpoint) -> StateDict:
    """The model weights inside a loaded checkpoint object.

    Accepts a raw state dict, or one nested under "model_state_dict" (the original's training checkpoints),
    "state_dict" or "model"; strips "module." (DDP) and "_orig_mod." (torch.compile) prefixes.
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"checkpoint must be a state dict (a mapping of names to tensors), got "
                         f"{type(checkpoint).__name__}.")
    for key in _NESTING_KEYS:
        if isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
            break
    not_tensors = [key for key, value in checkpoint.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise ValueError(f"checkpoint does not hold a state dict: entries {not_tensors[:5]} are not tensors "
                         f"(expected the weights at the top level or under one of {_NESTING_KEYS}).")
    state_dict = {}
    for key, value in checkpoint.items():
        for prefix in _WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        state_dict[key] = value
    return state_dict


def read_state_dict(path: Union[str, os.PathLike]) -> StateDict:
    """Read a checkpoint file (``torch.load(..., weights_only=True)`` or ``.safetensors``) or an HF
    ``save_pretrained`` directory, and return its model weights (see ``unwrap_state_dict``)."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / "model.safetensors", path / "pytorch_model.bin"]
        found = [candidate for candidate in candidates if candidate.is_file()]
        if not found:
            raise ValueError(f"path {str(path)!r} is a directory without model.safetensors or pytorch_model.bin.")
        path = found[0]
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} does not exist; pass a checkpoint file (.pth/.pt/.bin/.safetensors).")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return unwrap_state_dict(load_file(str(path), device="cpu"))
    return unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def _registered_archs(family: str) -> dict:
    """Registered name -> architecture, for one family ("vit" or "swin")."""
    archs = {name: model_arch(name) for name in list_models()}
    return {name: arch for name, arch in archs.items() if arch.family == family}


def _registered_matches(state_dict: StateDict, family: str) -> List[str]:
    """Registered names whose width and depth match a converted state dict."""
    if family == "vit":
        width = state_dict.get("encoder.pos_embed")
        depth = len({key.split(".")[2] for key in state_dict if key.startswith("encoder.blocks.")})
        signature = (width.shape[-1] if width is not None else None, depth)
        return [name for name, arch in _registered_archs("vit").items()
                if (arch.embed_dim, arch.depth) == signature]
    proj = state_dict.get("encoder.patch_embed.proj.weight")
    stages = {}
    for key in state_dict:
        parts = key.split(".")
        if key.startswith("encoder.layers.") and len(parts) > 4 and parts[3] == "blocks":
            stages.setdefault(int(parts[2]), set()).add(parts[4])
    depths = tuple(len(stages[stage]) for stage in sorted(stages))
    signature = (proj.shape[0] if proj is not None else None, depths)
    return [name for name, arch in _registered_archs("swin").items() if (arch.embed_dim, arch.depths) == signature]


def _hints(model: MaskedImageModel, state_dict: StateDict, source_format: str, missing: List[str],
           unexpected: List[str], mismatched: List[Tuple[str, tuple, tuple]]) -> List[str]:
    hints = []
    label = f"name={model.name!r}" if model.name else f"a {model.family} model"
    family = None if source_format == "unknown" else source_format.split("_")[1]
    if family is not None and family != model.family:
        pretty = {"vit": "ViT", "swin": "Swin"}[family]
        options = _registered_matches(state_dict, family) or list(_registered_archs(family))
        hints.append(f"this looks like a {pretty} checkpoint but {label}; try {' or '.join(options)}.")
        return hints
    if family is not None and (missing or unexpected or mismatched):
        matches = [name for name in _registered_matches(state_dict, family) if name != model.name]
        if matches:
            hints.append(f"the checkpoint's width and depth match {' or '.join(matches)}, not {label}.")
    norm_keys = {"encoder.norm.weight", "encoder.norm.bias"}
    if set(unexpected) == norm_keys and not missing:
        hints.append("the checkpoint has a final LayerNorm: create the model with final_norm=True.")
    if set(missing) == norm_keys and not unexpected:
        hints.append("the checkpoint has no final LayerNorm: create the model with final_norm=False.")
    for key, checkpoint_shape, model_shape in mismatched:
        if key.endswith("pos_embed") and checkpoint_shape[1] != model_shape[1]:
            hints.append(f"the checkpoint has {checkpoint_shape[1]} position slots, the model {model_shape[1]}: "
                         "it was trained at another img_size/patch_size.")
        elif key.endswith("relative_position_bias_table") and checkpoint_shape[0] != model_shape[0]:
            hints.append("relative position bias tables have another length: the checkpoint used another "
                         "window_size.")
    return list(dict.fromkeys(hints))


def _listing(title: str, keys: List[str]) -> str:
    shown = ", ".join(keys[:_LISTED_KEYS])
    more = f", ... ({len(keys) - _LISTED_KEYS} more)" if len(keys) > _LISTED_KEYS else ""
    return f"\n  {title} ({len(keys)}): {shown}{more}"


def load_state_dict_into(model: MaskedImageModel, state_dict: StateDict, *, strict: bool = True) -> LoadReport:
    """Convert ``state_dict`` (HF or this package's layout) and load it into ``model``.

    Args:
        model: a ``MaskedImageModel``.
        state_dict: model weights (see ``unwrap_state_dict`` for checkpoint objects).
        strict: if True (default), any missing or unexpected key raises. If False, they are reported in the
            returned ``LoadReport`` and a warning; the matching keys are loaded.

    Returns:
        ``LoadReport``.

    Raises:
        StateDictMismatchError (a ValueError): shape mismatches (always), missing/unexpected keys (strict);
            the message lists the keys and hints at the likely cause (wrong family, size, final_norm, img_size).
    """
    source_format = detect_checkpoint_format(state_dict)
    converted = convert_hf_state_dict(state_dict) if source_format != "unknown" else dict(state_dict)
    expected = model.state_dict()
    derived = {key for key in expected if key.endswith(_DERIVED_BUFFER_SUFFIXES)}
    converted = {key: value for key, value in converted.items()
                 if not (key.endswith(_DERIVED_BUFFER_SUFFIXES) and key not in expected)}
    missing = sorted(key for key in expected if key not in converted and key not in derived)
    unexpected = sorted(key for key in converted if key not in expected)
    mismatched = [(key, tuple(value.shape), tuple(expected[key].shape)) for key, value in converted.items()
                  if key in expected and value.shape != expected[key].shape]
    report = LoadReport(source_format, missing, unexpected)

    if mismatched or (strict and not report.complete):
        label = f"model {model.name!r}" if model.name else f"this {model.family} model"
        message = f"Checkpoint ({_FORMAT_NAMES[source_format]}) does not match {label}."
        if missing:
            message += _listing("missing keys", missing)
        if unexpected:
            message += _listing("unexpected keys", unexpected)
        if mismatched:
            message += _listing("shape mismatches (checkpoint vs model)",
                                [f"{key} {ckpt} vs {mine}" for key, ckpt, mine in mismatched])
        for hint in _hints(model, converted, source_format, missing, unexpected, mismatched):
            message += f"\n  Hint: {hint}"
        raise StateDictMismatchError(message)

    loadable = {key: value for key, value in converted.items() if key in expected}
    model.load_state_dict(loadable, strict=False)
    if not report.complete:
        warnings.warn(f"Partial load ({_FORMAT_NAMES[source_format]}): {len(missing)} missing keys "
                      f"{missing[:_LISTED_KEYS]}, {len(unexpected)} unexpected keys {unexpected[:_LISTED_KEYS]}.",
                      stacklevel=2)
    return report


def load_pretrained(path: Union[str, os.PathLike], name: str, *, strict: bool = True,
                    **overrides) -> MaskedImageModel:
    """Create ``name`` and load a checkpoint into it.

    Args:
        path: a ``torch.save`` file of an HF ``ViTForMaskedImageModeling`` / ``SwinForMaskedImageModeling``
            state dict (transformers 4.38 or 5 key names, raw or under "model_state_dict", as the original saved
            them), of this package's ``MaskedImageModel``, a ``.safetensors`` file, or an HF
            ``save_pretrained`` directory. Read with ``weights_only=True``.
        name: registry name (``list_models()``), e.g. "vit_b".
        strict: raise on missing/unexpected keys (default). Shape mismatches always raise.
        **overrides: architecture overrides for ``create_model`` (e.g. ``final_norm=False``).

    Returns:
        The loaded ``MaskedImageModel`` (in train mode, on CPU).
    """
    state_dict = read_state_dict(path)
    model = create_model(name, **overrides)
    load_state_dict_into(model, state_dict, strict=strict)
    return model
