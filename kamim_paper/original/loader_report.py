"""What the original's analysis notebooks really loaded from a checkpoint (issue 14).

The original's ``Evaluations/Representation Analysis`` notebooks build a ViT-B and call
``model.load_state_dict(torch.load(path), strict=False)``, discarding the report of missing and unexpected keys:

* ``self_attention_analysis.ipynb`` (attention maps, distance, NMI) builds HF transformers'
  ``ViTForMaskedImageModeling(ViTConfig(...))``; its recorded transformers version is 4.38.1;
* ``representation_analysis.ipynb`` (Fourier, t-SNE, pre/post-attention PCA) builds the local copy
  ``models/simmim.py``'s ``ViTForMaskedImageModeling``, whose blocks return pre/post-attention tokens but whose
  parameters have the same names and shapes as transformers 4.38's class;
* both load MoCo v3 with ``models/moco.py``: ``checkpoint["state_dict"]``, keys under ``module.base_encoder.``
  (the ``head`` left out) with the prefix stripped, into a timm-style ``VisionTransformer`` (1000-class head).

With ``strict=False``, PyTorch copies the tensors whose names match and ignores the rest, silently. A periodic
training checkpoint (``{"epoch", "model_state_dict", ...}``) therefore sets no weight at all, nor does a state dict
under other key names (a DDP ``module.`` prefix, this project's names, transformers 5's names): the notebook then
measures the model's random initialisation. ``original_loader_report`` replays those loads on a real module with
the original class's parameter names, and counts what changed.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
from torch import nn

from kamim_lib.checkpoint import LAST_CHECKPOINT, describe_load_failure
from kamim_lib.models import (create_model, detect_checkpoint_format, load_pretrained, load_state_dict_into, model_arch,
                              unwrap_state_dict)
from kamim_paper.original.moco_format import MOCO_ENCODER_PREFIX, MOCO_HEAD_PREFIX, MOCO_STATE_DICT_KEY
from kamim_paper.original.moco_v3 import load_moco_v3, load_moco_v3_state_dict, moco_v3_model

# The transformers version recorded in the output of self_attention_analysis.ipynb.
ORIGINAL_TRANSFORMERS_VERSION = "4.38.1"
# ViTConfig's default encoder_stride (the original never set it): the decoder's 1x1 conv has stride²·3 outputs.
_HF_DEFAULT_ENCODER_STRIDE = 16
_LISTED = 4


@dataclass
class LoaderOutcome:
    """One ``load_state_dict(checkpoint, strict=False)`` of the original's, replayed.

    Attributes:
        loader: short name of the code path (a key of ``ORIGINAL_LOADERS``).
        description: the notebook(s) and the model class.
        tensors_total / tensors_set: the model's state-dict tensors, and how many had a name in the file.
        elements_total / elements_set: the same in scalars (parameters).
        tensors_changed: tensors whose values differ from the model's fresh random initialisation after the load.
        missing: model keys the file did not provide (left at their random initial values).
        unexpected: file keys the model has no place for (ignored).
        error: the exception ``load_state_dict`` raised (e.g. a shape mismatch): the notebook stopped there.
    """

    loader: str
    description: str
    tensors_total: int
    tensors_set: int
    elements_total: int
    elements_set: int
    tensors_changed: int
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def identical_to_random_init(self) -> bool:
        """True when the model after the load is numerically its fresh random initialisation."""
        return self.error is None and self.tensors_changed == 0

    @property
    def fully_loaded(self) -> bool:
        """True when every tensor of the model was set from the file and nothing failed."""
        return self.error is None and self.tensors_set == self.tensors_total


@dataclass
class OriginalLoaderReport:
    """What each of the original's code paths loads from one file, and what this project's strict loader says.

    Attributes:
        path: the file.
        model: the registry name whose size the original's classes were built at (e.g. "vit_b").
        file_layout: what ``torch.load`` returned, in words (plain state dict, periodic checkpoint, MoCo, ...).
        outcomes: one ``LoaderOutcome`` per applicable original code path.
        strict_loader: the verdict of ``kamim_lib.models.load_pretrained(path, model)`` (or the MoCo v3 loader).
        strict_ok: whether that strict load succeeded.
    """

    path: str
    model: str
    file_layout: str
    outcomes: List[LoaderOutcome]
    strict_loader: str
    strict_ok: bool

    def outcome(self, loader: str) -> LoaderOutcome:
        for outcome in self.outcomes:
            if outcome.loader == loader:
                return outcome
        raise ValueError(f"no outcome for loader {loader!r}; this report has {[o.loader for o in self.outcomes]}.")


# --- the original's model classes, as parameter layouts ------------------------------------------------------


class _ParameterTree(nn.Module):
    """A module holding named tensors at dotted paths, so ``load_state_dict`` treats it like the real class."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        for name, value in tensors.items():
            *path, leaf = name.split(".")
            module = self
            for part in path:
                if not hasattr(module, part):
                    module.add_module(part, nn.Module())
                module = getattr(module, part)
            module.register_parameter(leaf, nn.Parameter(value.detach().clone(), requires_grad=False))


def _vit_config(model: str):
    """The ``transformers.ViTConfig`` the original's notebooks build, at ``model``'s size."""
    import transformers

    arch = model_arch(model)
    if arch.family != "vit":
        raise ValueError(f"model={model!r} is a {arch.family} model; the original's analysis notebooks built a ViT "
                         "(pass a ViT name such as 'vit_b').")
    return transformers.ViTConfig(hidden_size=arch.embed_dim, num_hidden_layers=arch.depth,
                                  num_attention_heads=arch.num_heads, image_size=arch.img_size,
                                  patch_size=arch.patch_size, intermediate_size=int(arch.embed_dim * arch.mlp_ratio),
                                  num_channels=arch.in_chans, encoder_stride=_HF_DEFAULT_ENCODER_STRIDE)


def installed_hf_vit_mim(model: str) -> nn.Module:
    """HF ``ViTForMaskedImageModeling`` of the installed transformers, built as the original's notebooks did."""
    import transformers

    return transformers.ViTForMaskedImageModeling(_vit_config(model))


_TRANSFORMERS_5_TO_438 = (
    (re.compile(r"^vit\.layers\."), "vit.encoder.layer."),
    (re.compile(r"\.attention\.q_proj\."), ".attention.attention.query."),
    (re.compile(r"\.attention\.k_proj\."), ".attention.attention.key."),
    (re.compile(r"\.attention\.v_proj\."), ".attention.attention.value."),
    (re.compile(r"\.attention\.o_proj\."), ".attention.output.dense."),
    (re.compile(r"\.mlp\.fc1\."), ".intermediate.dense."),
    (re.compile(r"\.mlp\.fc2\."), ".output.dense."),
)


def _to_transformers_438_names(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """transformers 5 ViT key names -> 4.38's (a no-op on 4.x names)."""
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in _TRANSFORMERS_5_TO_438:
            key = pattern.sub(replacement, key)
        renamed[key] = value
    return renamed


def hf438_vit_mim(model: str) -> nn.Module:
    """A module with the parameter names, shapes and (HF) initial values of transformers 4.38.1's
    ``ViTForMaskedImageModeling`` — also those of the original's local ``models/simmim.py`` copy.

    Built from the installed transformers' class (its own initialisation), renamed to 4.38's keys when the
    installed version spells them otherwise.
    """
    return _ParameterTree(_to_transformers_438_names(installed_hf_vit_mim(model).state_dict()))


def moco_image_size(checkpoint, patch_size: int = 16, default: int = 224) -> int:
    """The input side a MoCo v3 checkpoint was trained at, from its position embedding (224 for ViT-B/16)."""
    state = checkpoint.get(MOCO_STATE_DICT_KEY, {}) if isinstance(checkpoint, Mapping) else {}
    pos_embed = state.get(MOCO_ENCODER_PREFIX + "pos_embed")
    if not isinstance(pos_embed, torch.Tensor) or pos_embed.ndim != 3:
        return default
    grid = int(round((pos_embed.shape[1] - 1) ** 0.5))
    return grid * patch_size if grid * grid == pos_embed.shape[1] - 1 else default


def moco_vit(model: str, checkpoint=None) -> nn.Module:
    """The original's MoCo v3 model (``models/moco.py`` ``vit_base``): a timm-style ViT with a 1000-class head.

    Its parameter names are timm ``VisionTransformer``'s (cls_token, pos_embed, patch_embed.proj, blocks.N.{norm1,
    attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head), which is built here at ``model``'s width and depth,
    at the checkpoint's input size (224 px for MoCo v3's releases).
    """
    from timm.models.vision_transformer import VisionTransformer

    arch = model_arch(model)
    return VisionTransformer(img_size=moco_image_size(checkpoint, arch.patch_size), patch_size=arch.patch_size, embed_dim=arch.embed_dim,
                             depth=arch.depth, num_heads=arch.num_heads, mlp_ratio=arch.mlp_ratio, qkv_bias=True,
                             num_classes=1000)


def moco_original_state_dict(checkpoint) -> Dict[str, torch.Tensor]:
    """What the original's ``models/moco.py`` ``load_state_dict`` hands to the model: ``checkpoint["state_dict"]``'s
    ``module.base_encoder.*`` entries except the head, prefix stripped; everything else dropped.

    Raises:
        ValueError: ``checkpoint`` has no ``"state_dict"`` mapping (the original raised a KeyError).
    """
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get(MOCO_STATE_DICT_KEY), Mapping):
        raise ValueError(f"a MoCo v3 checkpoint holds its weights under {MOCO_STATE_DICT_KEY!r}; this file does not.")
    return {key[len(MOCO_ENCODER_PREFIX):]: value for key, value in checkpoint[MOCO_STATE_DICT_KEY].items()
            if key.startswith(MOCO_ENCODER_PREFIX) and not key.startswith(MOCO_ENCODER_PREFIX + MOCO_HEAD_PREFIX)}


@dataclass(frozen=True)
class OriginalLoader:
    """One of the original's load paths: how it built the model and what it passed to ``load_state_dict``."""

    description: str
    build: Callable[[str, object], nn.Module]  # (registry name, checkpoint object) -> fresh module
    prepare: Callable[[object], object]


ORIGINAL_LOADERS: Dict[str, OriginalLoader] = {
    "hf_vit_mim": OriginalLoader(
        f"self_attention_analysis.ipynb: transformers {ORIGINAL_TRANSFORMERS_VERSION} ViTForMaskedImageModeling, "
        "load_state_dict(torch.load(path), strict=False)", lambda model, _: hf438_vit_mim(model),
        lambda checkpoint: checkpoint),
    "local_simmim_copy": OriginalLoader(
        "representation_analysis.ipynb: local models/simmim.py ViTForMaskedImageModeling (4.38 parameter names), "
        "load_state_dict(torch.load(path), strict=False)", lambda model, _: hf438_vit_mim(model),
        lambda checkpoint: checkpoint),
    "hf_vit_mim_installed": OriginalLoader(
        "the same notebook code under the transformers installed here", lambda model, _: installed_hf_vit_mim(model),
        lambda checkpoint: checkpoint),
    "moco_v3": OriginalLoader(
        "both notebooks' MoCo v3 path: models/moco.py load_state_dict (module.base_encoder.*, head dropped) into "
        "vit_base, strict=False", moco_vit, moco_original_state_dict),
}
_MIM_LOADERS = ("hf_vit_mim", "local_simmim_copy", "hf_vit_mim_installed")


def replay_original_load(loader: str, checkpoint, model: str = "vit_b") -> LoaderOutcome:
    """Build the original's model for ``loader`` at ``model``'s size and load ``checkpoint`` as the original did.

    Args:
        loader: a key of ``ORIGINAL_LOADERS``.
        checkpoint: what ``torch.load`` returned for the file.
        model: registry name giving the size (e.g. "vit_b").

    Returns:
        ``LoaderOutcome``: counts against the model's own state before the load.
    """
    if loader not in ORIGINAL_LOADERS:
        raise ValueError(f"loader must be one of {list(ORIGINAL_LOADERS)}, got {loader!r}.")
    spec = ORIGINAL_LOADERS[loader]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = spec.build(model, checkpoint)
    before = {key: value.detach().clone() for key, value in module.state_dict().items()}
    error, passed = None, None
    try:
        passed = spec.prepare(checkpoint)
        result = module.load_state_dict(passed, strict=False)
        missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # A shape mismatch (or a file the MoCo path cannot read): the notebook raised here.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        error = f"{type(exc).__name__}: {' '.join(lines[:2])}"
        given = set(passed) if isinstance(passed, Mapping) else set()
        missing, unexpected = sorted(set(before) - given), sorted(given - set(before))
    after = module.state_dict()
    set_keys = [key for key in before if key not in missing] if error is None else []
    changed = sum(not torch.equal(before[key], after[key]) for key in before)
    return LoaderOutcome(
        loader=loader, description=spec.description, tensors_total=len(before), tensors_set=len(set_keys),
        elements_total=sum(value.numel() for value in before.values()),
        elements_set=sum(before[key].numel() for key in set_keys), tensors_changed=changed,
        missing=sorted(missing), unexpected=sorted(unexpected), error=error)


# --- the file --------------------------------------------------------------------------------------------------


def _read_checkpoint(path: Path, trust_pickle: bool = False):
    """``torch.load`` of ``path``; ValueError telling a directory, an empty file, random bytes, a newer torch's
    format and pickled objects apart (only the last is helped by ``--trust-pickle``)."""
    if not path.exists():
        raise ValueError(f"checkpoint {str(path)!r} does not exist; pass the path of a .pth/.pt/.bin file.")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not a torch.save file: the original's notebooks read "
                         "checkpoints with torch.load, so they could not have read it; pass a checkpoint file inside "
                         f"it, e.g. {str(path / 'checkpoints' / LAST_CHECKPOINT)!r} for a kamim run directory.")
    if not path.is_file() or path.suffix == ".safetensors":
        raise ValueError(f"{str(path)!r} is not a torch.save file: the original's notebooks read checkpoints with "
                         "torch.load, so they could not have read this one.")
    if path.stat().st_size == 0:
        raise ValueError(f"{str(path)!r} is empty (0 bytes; a copy or download cut short).")
    try:
        # The original called torch.load(path) under torch 2.3, whose default unpickled anything.
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as exc:  # noqa: BLE001 - torch's unpickling errors have many types
        reason = describe_load_failure(exc, path)
        advice = (" If you trust the file, pass trust_pickle=True (kamim inspect-checkpoint --trust-pickle), which "
                  "unpickles it as the original did.") if "holds Python objects" in reason and not trust_pickle \
            else ""
        raise ValueError(f"{str(path)!r} could not be read with torch.load: {reason}.{advice}") from None


def is_moco_checkpoint(checkpoint) -> bool:
    """True for a MoCo v3 training checkpoint (weights under "state_dict" with ``module.base_encoder.`` keys)."""
    return (isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(MOCO_STATE_DICT_KEY), Mapping)
            and any(str(key).startswith(MOCO_ENCODER_PREFIX) for key in checkpoint[MOCO_STATE_DICT_KEY]))


def describe_checkpoint_layout(checkpoint) -> str:
    """What ``torch.load`` returned, in words."""
    if not isinstance(checkpoint, Mapping):
        return f"a {type(checkpoint).__name__}, not a state dict"
    tensors = [key for key, value in checkpoint.items() if isinstance(value, torch.Tensor)]
    if is_moco_checkpoint(checkpoint):
        return (f"MoCo v3 checkpoint: top-level keys {sorted(map(str, checkpoint))}, "
                f"{len(checkpoint[MOCO_STATE_DICT_KEY])} tensors under 'state_dict'")
    if len(tensors) == len(checkpoint):
        return f"plain state dict of {len(tensors)} tensors ({detect_checkpoint_format(dict(checkpoint))} key names)"
    nested = [key for key, value in checkpoint.items() if isinstance(value, Mapping)]
    return (f"training checkpoint dict: top-level keys {sorted(map(str, checkpoint))[:_LISTED]} "
            f"({len(checkpoint)} in all; the weights are nested under {nested[:3]})")


def _strict_verdict(path: Path, model: str, checkpoint) -> tuple[str, bool]:
    """What this project's strict loader says about the file."""
    try:
        if is_moco_checkpoint(checkpoint):
            img_size = moco_image_size(checkpoint, model_arch(model).patch_size)
            load_moco_v3(path, model, img_size=img_size)
            return f"loads strictly as a MoCo v3 encoder ({model}, {img_size} px)", True
        load_pretrained(path, model, strict=True)
        return f"loads strictly into {model}", True
    except ValueError as error:
        return f"refuses it: {error}", False


def _strict_verdict_of_object(model: str, checkpoint) -> tuple[str, bool]:
    """The strict loaders on an already unpickled checkpoint (``trust_pickle``)."""
    try:
        if is_moco_checkpoint(checkpoint):
            img_size = moco_image_size(checkpoint, model_arch(model).patch_size)
            load_moco_v3_state_dict(moco_v3_model(model, img_size), checkpoint)
            return f"loads strictly as a MoCo v3 encoder ({model}, {img_size} px)", True
        load_state_dict_into(create_model(model), unwrap_state_dict(checkpoint), strict=True)
        return f"loads strictly into {model}", True
    except ValueError as error:
        return f"refuses it: {error}", False


def original_loader_report(path: str | os.PathLike, model: str = "vit_b", *,
                           trust_pickle: bool = False) -> OriginalLoaderReport:
    """Load ``path`` exactly as each of the original's analysis notebooks did, and say what was really loaded.

    For a MoCo v3 checkpoint the MoCo code path is replayed; for anything else the two ViT classes of the
    notebooks (transformers 4.38.1's ``ViTForMaskedImageModeling`` and the local ``models/simmim.py`` copy), and
    the HF class of the transformers installed here. Each replay is ``module.load_state_dict(obj, strict=False)``
    on a freshly initialised module with the original class's parameter names, compared tensor by tensor with its
    state before the load.

    Args:
        path: a checkpoint file (read with ``torch.load(weights_only=True)``).
        model: the registry name whose size the notebooks' ``ViTConfig`` had ("vit_b" for the paper).
        trust_pickle: read with ``weights_only=False`` (only for files you trust: unpickling runs code), for
            checkpoints that store Python objects beside the tensors.

    Returns:
        ``OriginalLoaderReport`` (``format_original_loader_report`` prints it).

    Raises:
        ValueError: the file does not exist or cannot be read; ``model`` is not a registered ViT.
    """
    path = Path(path)
    _vit_config(model)  # checks the name before reading a large file
    checkpoint = _read_checkpoint(path, trust_pickle)
    loaders = ("moco_v3",) if is_moco_checkpoint(checkpoint) else _MIM_LOADERS
    outcomes = [replay_original_load(loader, checkpoint, model) for loader in loaders]
    verdict, ok = _strict_verdict(path, model, checkpoint) if not trust_pickle else _strict_verdict_of_object(
        model, checkpoint)
    return OriginalLoaderReport(str(path), model, describe_checkpoint_layout(checkpoint), outcomes, verdict, ok)


def loader_verdict(outcome: LoaderOutcome) -> str:
    """One sentence: did this code path load the weights, partly, or leave the random initialisation?"""
    counts = (f"{outcome.tensors_set} of {outcome.tensors_total} tensors "
              f"({outcome.elements_set:,} of {outcome.elements_total:,} parameters)")
    if outcome.error is not None:
        return f"the load fails ({outcome.error}): the notebook stops here."
    if outcome.identical_to_random_init:
        return (f"sets {counts}; the model is numerically its random initialisation, so its analysis measures an "
                "untrained network.")
    if outcome.fully_loaded:
        return f"sets {counts}: the weights were loaded."
    return (f"sets {counts} ({outcome.tensors_changed} changed); {len(outcome.missing)} tensors keep their random "
            "initial values: a partly loaded model.")


def report_sentences(label: str, report: OriginalLoaderReport) -> List[str]:
    """Sentences for a notebook, generated from the report: per original code path, whether ``label``'s weights
    were actually loaded; then what this project's strict loader does with the file."""
    sentences = [f"{label}: the original's {outcome.loader} path {loader_verdict(outcome)}"
                 for outcome in report.outcomes]
    strict = report.strict_loader.splitlines()[0]
    return sentences + [f"{label}: kamim's strict loader {strict}"]


def loader_report_record(report: OriginalLoaderReport) -> dict:
    """The report as JSON-ready data (every field, plus each outcome's ``identical_to_random_init``)."""
    record = asdict(report)
    for entry, outcome in zip(record["outcomes"], report.outcomes):
        entry["identical_to_random_init"] = outcome.identical_to_random_init
        entry["fully_loaded"] = outcome.fully_loaded
    return record


def _keys(keys: List[str]) -> str:
    more = f" … (+{len(keys) - _LISTED})" if len(keys) > _LISTED else ""
    return ", ".join(keys[:_LISTED]) + more if keys else "none"


def format_original_loader_report(report: OriginalLoaderReport) -> str:
    """The report on one screen: the file, each original code path, and this project's strict loader."""
    lines = [f"checkpoint: {report.path}", f"file: {report.file_layout}",
             f"model size: {report.model}", ""]
    for outcome in report.outcomes:
        lines += [f"[{outcome.loader}] {outcome.description}",
                  f"  {loader_verdict(outcome)}",
                  f"  identical to a fresh random init: {'yes' if outcome.identical_to_random_init else 'no'}",
                  f"  missing ({len(outcome.missing)}): {_keys(outcome.missing)}",
                  f"  unexpected ({len(outcome.unexpected)}): {_keys(outcome.unexpected)}", ""]
    strict = report.strict_loader.splitlines()
    lines.append(f"kamim's strict loader: {strict[0]}")
    lines += [f"  {line.strip()}" for line in strict[1:_LISTED]]
    return "\n".join(lines)


def checkpoint_loader_reports(checkpoints: Mapping[str, str | os.PathLike], model: str = "vit_b"
                              ) -> tuple[Dict[str, dict], List[str]]:
    """``original_loader_report`` for every checkpoint of an analysis, as JSON records and notebook sentences.

    A file the original's notebooks could not have read (a safetensors file, an HF folder) gets a sentence saying
    so instead of a report.

    Returns:
        (label -> ``loader_report_record`` or {"error": message}, sentences).
    """
    records: Dict[str, dict] = {}
    sentences: List[str] = []
    for label, path in checkpoints.items():
        try:
            report = original_loader_report(path, model)
        except ValueError as error:
            records[label] = {"path": str(path), "error": str(error)}
            sentences.append(f"{label}: {error}")
            continue
        records[label] = loader_report_record(report)
        sentences += report_sentences(label, report)
    return records, sentences
