"""The backbone a fine-tune or probe starts from: a kamim pretrain checkpoint, an original (HF-format) checkpoint,
or random initialisation (``pretrained: scratch``)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from kamim_lib.checkpoint import (LAST_CHECKPOINT, CheckpointError, check_model_name, load_checkpoint,
                                  load_state_strict)
from kamim_lib.config import SCRATCH, TrainConfig
from kamim_lib.models import create_model, load_pretrained


def read_run_config(folder: Path) -> dict:
    """``<folder>/config.json`` of a run (``{"run_id", "config", "derived"}``).

    Raises:
        CheckpointError: the file is truncated or not a run's configuration (naming it).
    """
    config_file = folder / "config.json"
    try:
        recorded = json.loads(config_file.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{str(config_file)!r} is damaged ({error}); restore it from a copy of the run, or "
                              "name the checkpoint file itself: pretrained=<run>/checkpoints/checkpoint-last.pt") \
            from None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("config"), dict):
        raise CheckpointError(f"{str(config_file)!r} is not a run's config.json (no 'config' entry)")
    return recorded


def resolve_checkpoint_path(pretrained: str) -> tuple[Path, bool]:
    """A checkpoint file from ``pretrained`` (a file, or a run directory holding config.json).

    A run directory's checkpoint is the one inside it (``<dir>/checkpoints/checkpoint-last.pt``), so a moved or
    copied run brings its own weights; only a run trained with ``checkpoint_dir`` (checkpoints kept elsewhere) is
    looked up where its config.json says. :func:`load_backbone` then checks the checkpoint's run id.

    Returns:
        ``(path, from_run_directory)``.

    Raises:
        FileNotFoundError: naming what was looked for and how to produce it.
        CheckpointError: a damaged config.json.
    """
    path = Path(pretrained)
    if path.is_file():
        return path, False
    if path.is_dir() or path.parent.name == "pretrain":
        config_file = path / "config.json"
        if not config_file.is_file():
            existing = sorted(item.parent.name for item in path.parent.glob("*/config.json"))
            raise FileNotFoundError(
                f"pretrain run {str(path)!r} not found (no config.json). It is the run `kamim pretrain` makes from the "
                "same config file plus the --set values that name pretrain settings: pretrain-only keys (method, "
                "detector, temperature, ...), model, img_size, out_dir, and any pretrain.KEY=VALUE (use those for "
                "keys both commands have, e.g. pretrain.epochs=2). Run that pretraining first, or set "
                "pretrained=<checkpoint file | run directory | scratch>. Pretrain runs in "
                f"{str(path.parent)!r}: {', '.join(existing) or 'none'}.")
        recorded = read_run_config(path)
        inside = path / "checkpoints" / LAST_CHECKPOINT
        external = recorded["config"].get("checkpoint_dir")
        candidates = [inside]
        if external:
            candidates.append(Path(external) / str(recorded["config"].get("section", "pretrain"))
                              / str(recorded.get("run_id")) / LAST_CHECKPOINT)
        for checkpoint in candidates:
            if checkpoint.is_file():
                return checkpoint, True
        raise FileNotFoundError(f"pretrain run {str(path)!r} has no checkpoint at "
                                f"{' or '.join(repr(str(item)) for item in candidates)}; finish it with "
                                "`kamim pretrain` first.")
    raise FileNotFoundError(f"pretrained={pretrained!r} is neither a checkpoint file nor a pretrain run directory.")


def check_run_id(state: dict, pretrained: str, path: Path) -> None:
    """A checkpoint found through a run directory must belong to that run (its config.json's run id).

    Raises:
        CheckpointError: naming both run ids.
    """
    expected = read_run_config(Path(pretrained)).get("run_id")
    if state.get("run_id") != expected:
        raise CheckpointError(f"{str(path)!r} belongs to run {state.get('run_id')}, but pretrained={pretrained!r} is "
                              f"run {expected}; put that run's own checkpoint there, or name the checkpoint file "
                              "you mean: pretrained=<file>")


def load_backbone(config: TrainConfig) -> tuple[torch.nn.Module, dict]:
    """Build ``config.model`` at ``config.img_size`` and load the pretrained weights strictly.

    Returns:
        ``(encoder, info)``: the encoder module (mask token included, unused by classifiers) and a JSON-friendly
        description of the source (``pretrained``, ``pretrain_method``, ``pretrain_run`` ...).

    Raises:
        CheckpointError: a checkpoint of another model, another image size, an unfinished pretrain run (when
            derived from the config), or weights that do not match (missing/unexpected keys are listed).
    """
    overrides = {"img_size": config.img_size, "drop_path_rate": config.drop_path_rate}
    if getattr(config, "relative_position_bias", False):
        overrides["relative_position_bias"] = True
    if config.pretrained == SCRATCH:
        return create_model(config.model, **overrides).encoder, {"pretrained": SCRATCH}
    path, from_run = resolve_checkpoint_path(config.pretrained)
    try:
        state = load_checkpoint(path)
    except CheckpointError as error:
        if "not a kamim checkpoint" not in str(error):
            raise
        # An original HF-format (or plain state-dict) checkpoint: the models package converts and loads strictly.
        plain = {key: value for key, value in overrides.items() if key != "relative_position_bias"}
        encoder = load_pretrained(path, config.model, **plain).encoder
        info = {"pretrained": str(path), "pretrain_format": "external"}
        if "relative_position_bias" in overrides:  # the original checkpoints have none: add fresh (zero) tables
            with_bias = create_model(config.model, final_norm=encoder.arch.final_norm, **overrides).encoder
            weights, info["freshly_initialised"] = with_fresh_position_bias(with_bias, encoder.state_dict())
            load_state_strict(with_bias, weights, what=f"pretrained {config.model} encoder")
            encoder = with_bias
        return encoder, info
    if state.get("section") != "pretrain":
        raise CheckpointError(f"{str(path)!r} is a {state.get('section')} checkpoint; fine-tuning and probing start "
                              "from a pretrain checkpoint")
    if from_run:
        check_run_id(state, config.pretrained, path)
    check_model_name(state, config.model, path)
    pretrain_config = state["config"]
    if pretrain_config["img_size"] != config.img_size:
        raise CheckpointError(f"{str(path)!r} was pretrained at img_size={pretrain_config['img_size']}, this run "
                              f"uses img_size={config.img_size}; set img_size={pretrain_config['img_size']}")
    finished = bool(state["progress"].get("finished"))
    if not finished:
        message = (f"pretrain checkpoint {str(path)!r} is unfinished (epoch {state['progress']['epoch']} of "
                   f"{pretrain_config['epochs']})")
        if from_run:
            raise CheckpointError(message + "; finish it with `kamim pretrain` or name a checkpoint explicitly")
        warnings.warn(message, stacklevel=2)
    encoder = create_model(config.model, final_norm=pretrain_config["final_norm"], **overrides).encoder
    weights, unused = split_encoder_weights(state["model"])
    weights, fresh = with_fresh_position_bias(encoder, weights)
    load_state_strict(encoder, weights, what=f"pretrained {config.model} encoder")
    info = {"pretrained": str(path), "pretrain_method": pretrain_config["method"],
            "pretrain_run": state.get("run_id"), "pretrain_finished": finished,
            "unused_pretraining_weights": unused}
    if fresh:
        info["freshly_initialised"] = fresh
    return encoder, info


def split_encoder_weights(weights: dict) -> tuple[dict, list[str]]:
    """The encoder's part of a pretraining state dict, and what is left behind.

    Every pretraining model keeps its encoder under ``encoder.`` (a plain ViT/Swin); the rest exists only for
    pretraining (SimMIM's ``decoder``; SemanticMIM's ``extra_layers``, ``extra_proxy_tokens`` and ``head``). The
    encoder part is loaded strictly; the rest is reported, never silently dropped.

    Returns:
        ``(encoder weights without the "encoder." prefix, sorted top-level names of the unused entries)``.
    """
    prefix = "encoder."
    encoder = {key[len(prefix):]: value for key, value in weights.items() if key.startswith(prefix)}
    unused = sorted({key.split(".")[0] for key in weights if not key.startswith(prefix)})
    return encoder, unused


def with_fresh_position_bias(model: torch.nn.Module, weights: dict) -> tuple[dict, list[str]]:
    """Complete ``weights`` with the model's own (zero) relative-position-bias tables where they are absent.

    Pretraining never uses the bias (``relative_position_bias`` is a fine-tuning option), so a fine-tune that turns
    it on starts the tables from zero, as BEiT does; every other key is still loaded strictly.

    Returns:
        ``(weights, names of the keys taken from the fresh model)``.
    """
    own = model.state_dict()
    fresh = sorted(key for key in own if "relative_position_bias_table" in key and key not in weights)
    return {**weights, **{key: own[key] for key in fresh}}, fresh
