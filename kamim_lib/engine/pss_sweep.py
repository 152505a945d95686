"""The dynamic-inference sweep of a finished fine-tune run: its classifier at each drop ratio (PEERS §3.6).

Any fine-tuned ViT classifier can drop tokens at inference; PSS's claim is that one *trained* with the schedule
degrades more gracefully. :func:`sweep_finetune_run` rebuilds the run's classifier from its checkpoint and runs
:func:`~.pss_classifier.dynamic_inference_sweep` on its validation split.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from kamim_lib.checkpoint import load_checkpoint, load_state_strict
from kamim_lib.config import FinetuneConfig, config_from_dict
from kamim_lib.data import build_eval_transform
from kamim_lib.models import create_model
from kamim_lib.models.pss import SWEEP_DROP_RATIOS, TokenDrop
from kamim_lib.runtime import create_runtime
from kamim_lib.engine.pss_classifier import TokenDropClassifier, dynamic_inference_sweep
from kamim_lib.engine.run_dir import RunDirectory
from kamim_lib.engine.tasks import build_split, classification_collate, eval_loader


def finetuned_classifier(checkpoint: dict, *, scorer: str | None = None) -> tuple[TokenDropClassifier, FinetuneConfig]:
    """The classifier saved in a fine-tune checkpoint, as a ``TokenDropClassifier`` (d = 0: the saved model).

    Args:
        checkpoint: a loaded fine-tune checkpoint (``load_checkpoint``).
        scorer: patch scorer for the sweep; None = the run's own ``pss_scorer``.

    Raises:
        ValueError: not a fine-tune checkpoint, or not of a ViT.
    """
    config = config_from_dict(checkpoint["config"])
    if not isinstance(config, FinetuneConfig):
        raise ValueError(f"the dynamic-inference sweep needs a fine-tune run, got a {config.section} checkpoint.")
    weights = checkpoint["model"]
    # A backbone pretrained without the final LayerNorm has none here either (FinetuneClassifier adds fc_norm).
    encoder = create_model(config.model, img_size=config.img_size, final_norm="encoder.norm.weight" in weights,
                           relative_position_bias=config.relative_position_bias).encoder
    token_drop = TokenDrop(scorer=scorer or config.pss_scorer, patch_size=encoder.arch.patch_size)
    model = TokenDropClassifier(encoder, weights["head.weight"].shape[0], token_drop=token_drop,
                                pooling=config.pooling)
    load_state_strict(model, weights, what="fine-tuned classifier")
    return model.eval(), config


def sweep_finetune_run(run_dir: str | Path, *, drop_ratios: Sequence[float] = SWEEP_DROP_RATIOS,
                       scorer: str | None = None, device: str = "cpu", batch_size: int | None = None,
                       repeats: int = 3) -> list[dict]:
    """Top-1/top-5 and measured images/s of a finished fine-tune run at each drop ratio.

    Args:
        run_dir: the fine-tune run directory (holding config.json).
        drop_ratios: d values (default 0, 0.1, ..., 0.8).
        scorer: which tokens are kept (None: the run's ``pss_scorer``, "l1" unless set).
        device: "cpu", "cuda", "xla" or "auto".
        batch_size: evaluation batch (None: the run's eval batch size).
        repeats: timed forward passes per ratio (throughput = the median).

    Returns:
        The rows of :func:`~.pss_classifier.dynamic_inference_sweep`.
    """
    import json

    saved = json.loads((Path(run_dir) / "config.json").read_text())["config"]
    config = config_from_dict(saved)
    checkpoint_path = RunDirectory(config).checkpoint_path
    if not checkpoint_path.is_file():
        raise FileNotFoundError(f"fine-tune run {str(run_dir)!r} has no checkpoint at {str(checkpoint_path)!r}.")
    model, config = finetuned_classifier(load_checkpoint(checkpoint_path), scorer=scorer)
    runtime = create_runtime(device, "fp32")
    try:
        model = model.to(runtime.device)
        if batch_size is not None:
            from dataclasses import replace

            config = replace(config, eval_batch_size=batch_size)
        dataset = build_split(config, "val", build_eval_transform(config.img_size))
        loader = eval_loader(dataset, config, runtime, classification_collate)
        with torch.no_grad():
            return dynamic_inference_sweep(model, loader, runtime, drop_ratios=drop_ratios, repeats=repeats)
    finally:
        runtime.shutdown()
