"""The models an analysis compares: trained checkpoints, loaded strictly, plus a randomly initialised baseline.

SPEC §3: the paper's KAMIM attention curves equal those of an untrained ViT, and the original notebooks loaded
checkpoints with ``strict=False``. Every analysis here therefore loads through ``kamim_lib.models.load_pretrained``
(strict: a missing or unexpected key raises, naming it) and always includes a "random init" model of the same
architecture, built from a fixed seed, to plot beside the trained ones.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Mapping

import torch

from kamim_lib.reproduce.artifacts import pretrained_checkpoints

RANDOM_INIT = "random init"
METHODS = ("simmim", "kamim")
ANALYSIS_DEVICES = ("auto", "cpu", "cuda")


def resolve_analysis_device(device: str) -> torch.device:
    """"auto" → the CUDA GPU when visible, else the CPU; "cpu" / "cuda" as asked (analysis does not run on XLA).

    Raises:
        ValueError: another value, or "cuda" without a GPU.
    """
    from kamim_lib._validation import check_choice
    from kamim_lib.runtime.factory import resolve_device_type

    check_choice("device", device, ANALYSIS_DEVICES)
    return torch.device(resolve_device_type(device))


def random_init_model(name: str, seed: int, **overrides):
    """``create_model(name)`` initialised from ``seed``, without touching the global random state.

    The same name, seed and overrides give bit-identical weights on every call.
    """
    from kamim_lib.models import create_model

    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return create_model(name, **overrides)


def analysis_models(name: str, checkpoints: Mapping[str, str | os.PathLike | None], seed: int = 0, *,
                    device: str | torch.device = "cpu", **overrides) -> dict:
    """Load each checkpoint strictly and add the random-init baseline; every model in eval mode on ``device``.

    Args:
        name: registry name of the architecture (``kamim_lib.models.list_models()``), e.g. "vit_b".
        checkpoints: label → checkpoint path (anything ``load_pretrained`` reads: the original's HF checkpoints,
            this project's, safetensors, an HF ``save_pretrained`` folder). A None path leaves that label out
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
    from kamim_lib.models import load_pretrained

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
        models[label] = load_pretrained(path, name, strict=True, **overrides)
    models[RANDOM_INIT] = random_init_model(name, seed, **overrides)
    return {label: model.to(target).eval() for label, model in models.items()}


def resolve_checkpoints(output_dir: str | os.PathLike, model: str | None, simmim_checkpoint: str | None,
                        kamim_checkpoint: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """The architecture and checkpoints a notebook analyses, from its parameters or the pretraining record.

    A checkpoint parameter left as None is taken from what this profile's pretraining section recorded in
    ``<output_dir>/pretrain/checkpoints.json`` (``kamim_lib.reproduce.artifacts``); ``model`` None takes the
    record's model name.

    Args:
        output_dir: the profile's output folder.
        model: registry name, or None for the record's.
        simmim_checkpoint, kamim_checkpoint: checkpoint paths, or None for the record's.

    Returns:
        (model name, {"simmim": path, "kamim": path}, {"simmim": source, "kamim": source}) with source
        "parameter" or "pretraining record".

    Raises:
        FileNotFoundError: a path is None and the pretraining section has not run (says how to fix it).
        ValueError: both paths are given but no model name; the record's model differs from ``model`` while
            one of its checkpoints is used; a path does not exist.
    """
    given = {"simmim": simmim_checkpoint, "kamim": kamim_checkpoint}
    paths, sources = {}, {}
    if any(path is None for path in given.values()):
        record = pretrained_checkpoints(output_dir)
        recorded_model = record["model"]
        if model is not None and model != recorded_model:
            raise ValueError(f"model={model!r} but this profile's pretraining record ({Path(output_dir)}/pretrain/"
                             f"checkpoints.json) is for {recorded_model!r}; pass model=None to use the record, or "
                             "give both simmim_checkpoint and kamim_checkpoint.")
        model = recorded_model
        for method, path in given.items():
            if path is None:
                if method not in record["checkpoints"]:
                    raise ValueError(f"the pretraining record has no {method!r} checkpoint (it has "
                                     f"{sorted(record['checkpoints'])}); pass {method}_checkpoint.")
                paths[method], sources[method] = record["checkpoints"][method], "pretraining record"
    elif model is None:
        raise ValueError("simmim_checkpoint and kamim_checkpoint are given but model is None: name their "
                         "architecture, e.g. model='vit_b' for the original's released ViT-B checkpoints.")
    for method, path in given.items():
        if path is not None:
            paths[method], sources[method] = path, "parameter"
    for method in METHODS:
        if not Path(paths[method]).exists():
            raise ValueError(f"{method} checkpoint {paths[method]!r} does not exist; pass {method}_checkpoint=... "
                             "with an existing file.")
    return model, {method: str(paths[method]) for method in METHODS}, {m: sources[m] for m in METHODS}
