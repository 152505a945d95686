"""The models an analysis compares: trained checkpoints, loaded strictly, plus a randomly initialised baseline.

SPEC §3: the paper's KAMIM attention curves equal those of an untrained ViT, and the original notebooks loaded
checkpoints with ``strict=False``. Every analysis here therefore loads any number of checkpoints ({label: path}:
this project's, the original's HF files, MoCo v3's) strictly (``load_analysis_checkpoint``: a missing or unexpected
key raises, naming it) and always includes a "random init" model of the same architecture, built from a fixed
seed, to plot beside the trained ones.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Mapping

import torch

from kamim_lib._validation import check_choice
from kamim_lib.models import create_model, load_pretrained, model_arch
from kamim_lib.runtime.factory import resolve_device_type
from kamim_paper.original.loader_report import is_moco_checkpoint, moco_image_size
from kamim_paper.original.moco_v3 import load_moco_v3_state_dict, moco_v3_model
from kamim_paper.results.artifacts import pretrained_checkpoints

RANDOM_INIT = "random init"
ANALYSIS_DEVICES = ("auto", "cpu", "cuda")


def resolve_analysis_device(device: str) -> torch.device:
    """"auto" → the CUDA GPU when visible, else the CPU (also on a TPU runtime); "cpu" / "cuda" as asked (analysis
    does not run on XLA).

    Raises:
        ValueError: another value, or "cuda" without a GPU.
    """
    check_choice("device", device, ANALYSIS_DEVICES)
    return torch.device(resolve_device_type(device, allow_xla=False))


def random_init_model(name: str, seed: int, **overrides):
    """``create_model(name)`` initialised from ``seed``, without touching the global random state.

    The same name, seed and overrides give bit-identical weights on every call.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return create_model(name, **overrides)


def load_analysis_checkpoint(path: str | os.PathLike, name: str, **overrides):
    """Load one checkpoint strictly, whatever its format.

    A MoCo v3 training checkpoint (weights under "state_dict" with ``module.base_encoder.`` keys) becomes a MoCo v3
    encoder at its own input size (``kamim_paper.original.moco_v3``; 224 px for the released ViT-B); anything else
    goes through ``kamim_lib.models.load_pretrained`` (this project's checkpoints, the original's HF ones, raw or
    under "model_state_dict", safetensors, an HF ``save_pretrained`` folder).

    Raises:
        ValueError: the checkpoint does not match ``name`` (missing/unexpected/mis-shaped keys, listed).
    """
    path = Path(path)
    if path.is_file() and path.suffix != ".safetensors":
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if is_moco_checkpoint(checkpoint):
            model = moco_v3_model(name, moco_image_size(checkpoint, model_arch(name).patch_size))
            load_moco_v3_state_dict(model, checkpoint)
            return model
        del checkpoint
    return load_pretrained(path, name, strict=True, **overrides)


def analysis_models(name: str, checkpoints: Mapping[str, str | os.PathLike | None], seed: int = 0, *,
                    device: str | torch.device = "cpu", **overrides) -> dict:
    """Load each checkpoint strictly and add the random-init baseline; every model in eval mode on ``device``.

    Args:
        name: registry name of the architecture (``kamim_lib.models.list_models()``), e.g. "vit_b".
        checkpoints: label → checkpoint path, any number of them (anything ``load_analysis_checkpoint`` reads:
            this project's checkpoints, the original's HF ones, MoCo v3's). A None path leaves that label out
            with a warning (e.g. only a KAMIM checkpoint is at hand). The label "random init" is reserved.
        seed: seed of the random-init baseline.
        device: where the models live: a torch device, or "auto" / "cpu" / "cuda".
        **overrides: architecture overrides for every model (e.g. ``final_norm=False``).

    Returns:
        label → ``MaskedImageModel``: the checkpoints in the given order, then "random init".

    Raises:
        ValueError: a label is "random init", or a checkpoint does not match the architecture
            (``StateDictMismatchError``, listing missing/unexpected keys).
    """
    if not isinstance(checkpoints, Mapping):
        raise ValueError(f"checkpoints must be a mapping label -> path, got {type(checkpoints).__name__}.")
    if RANDOM_INIT in checkpoints:
        raise ValueError(f"checkpoints may not use the label {RANDOM_INIT!r}: the random-init baseline is always "
                         "added by analysis_models itself.")
    target = device if isinstance(device, torch.device) else resolve_analysis_device(device)
    models = {}
    for label, path in checkpoints.items():
        if path is None:
            warnings.warn(f"no checkpoint for {label!r}: it is left out of the comparison.", stacklevel=2)
            continue
        models[label] = load_analysis_checkpoint(path, name, **overrides)
    models[RANDOM_INIT] = random_init_model(name, seed, **overrides)
    return {label: model.to(target).eval() for label, model in models.items()}


def check_checkpoint_labels(checkpoints) -> None:
    """A ``checkpoints`` parameter is None or a mapping of non-empty labels (not "random init") to a path or None.

    Raises:
        ValueError: naming the bad entry and the expected form.
    """
    if checkpoints is None:
        return
    form = "a mapping label -> path, e.g. {simmim: /abs/simmim.pth, kamim: /abs/kamim.pth, moco: /abs/moco.pth.tar}"
    if not isinstance(checkpoints, Mapping):
        raise ValueError(f"checkpoints must be {form}; got {type(checkpoints).__name__}.")
    for label, path in checkpoints.items():
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"checkpoints has the label {label!r}; labels must be non-empty strings ({form}).")
        if label == RANDOM_INIT:
            raise ValueError(f"checkpoints may not use the label {RANDOM_INIT!r}: the random-init baseline is always "
                             "added.")
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"checkpoints[{label!r}] must be a path (or None for the pretraining record's), got "
                             f"{path!r}.")


def resolve_checkpoints(output_dir: str | os.PathLike, model: str | None,
                        checkpoints: Mapping[str, str | None] | None
                        ) -> tuple[str, dict[str, str], dict[str, str]]:
    """The architecture and checkpoints a notebook analyses, from its parameters or the pretraining record.

    ``checkpoints`` None takes every run this profile's pretraining section recorded in
    ``<output_dir>/pretrain/checkpoints.json`` (``kamim_paper.results.artifacts``), labelled by method; an entry
    whose path is None takes that label's recorded run (e.g. ``{simmim: null, kamim: null, moco: /abs/moco.pth.tar}``
    adds MoCo v3 beside this profile's own runs). ``model`` None takes the record's model name.

    Args:
        output_dir: the profile's output folder.
        model: registry name, or None for the record's.
        checkpoints: label → path (or None), or None.

    Returns:
        (model name, {label: path}, {label: source}) with source "parameter" or "pretraining record", in the
        given order (the record's order when ``checkpoints`` is None).

    Raises:
        FileNotFoundError: the record is needed and the pretraining section has not run (says how to fix it).
        ValueError: bad labels; every path is given but no model name; the record's model differs from ``model``
            while the record is used; a label taken from the record is not in it; a path does not exist.
    """
    check_checkpoint_labels(checkpoints)
    paths, sources = {}, {}
    needs_record = checkpoints is None or any(path is None for path in checkpoints.values())
    if needs_record:
        record = pretrained_checkpoints(output_dir)
        recorded_model = record["model"]
        if model is not None and model != recorded_model:
            raise ValueError(f"model={model!r} but this profile's pretraining record ({Path(output_dir)}/pretrain/"
                             f"checkpoints.json) is for {recorded_model!r}; pass model=None to use the record, or "
                             "give every checkpoint a path.")
        model = recorded_model
        wanted = checkpoints if checkpoints is not None else dict.fromkeys(record["checkpoints"])
    else:
        if model is None:
            raise ValueError("checkpoints are given but model is None: name their architecture, e.g. model='vit_b' "
                             "for the original's released ViT-B checkpoints (and MoCo v3 ViT-B).")
        wanted = checkpoints
    for label, path in wanted.items():
        if path is None:
            if label not in record["checkpoints"]:
                raise ValueError(f"checkpoints[{label!r}] is None but the pretraining record has no {label!r} run "
                                 f"(it has {sorted(record['checkpoints'])}); give its path.")
            paths[label], sources[label] = str(record["checkpoints"][label]), "pretraining record"
        else:
            paths[label], sources[label] = str(path), "parameter"
        if not Path(paths[label]).exists():
            raise ValueError(f"checkpoint {label!r} at {paths[label]!r} does not exist; pass "
                             f"checkpoints={{{label}: /abs/path}} with an existing file.")
    return model, paths, sources
