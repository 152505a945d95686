"""The fine-tuning classifier with PSS token dropping, and the dynamic-inference sweep (PEERS §3).

``TokenDropClassifier`` is :class:`~.heads.FinetuneClassifier` plus a drop ratio that the training task sets
after every optimiser step from the schedule (``kamim_lib.models.pss``). At d = 0 it is the plain classifier,
bit for bit; at d > 0 the encoder runs on CLS plus the K best-scoring patch tokens and the head mean-pools them.
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterable, Iterator, Sequence

import torch
from torch import nn

from kamim_lib.models.pss import SWEEP_DROP_RATIOS, TokenDrop, keep_count
from kamim_lib.runtime import Runtime
from kamim_lib.engine.evaluation import evaluate_classifier
from kamim_lib.engine.heads import FinetuneClassifier, pool_tokens


class TokenDropClassifier(FinetuneClassifier):
    """``logits = head(pool(encoder(kept tokens)))`` with the kept tokens chosen per image by ``token_drop``.

    Args:
        encoder: a ``MaskedViTEncoder`` (``embed``, ``forward_tokens``, one CLS token).
        num_classes: K.
        token_drop: the scorer (``TokenDrop``).
        pooling: "mean" (PSS: mean of the kept patch tokens) or "cls".
        head_init: see :class:`~.heads.FinetuneClassifier`.

    Attributes:
        drop_ratio: the batch-wide d in [0, 1) used by ``forward``; 0 at construction (as PSS's model).
    """

    def __init__(self, encoder: nn.Module, num_classes: int, *, token_drop: TokenDrop, pooling: str = "mean",
                 head_init: str = "pytorch"):
        super().__init__(encoder, num_classes, pooling=pooling, head_init=head_init)
        if not hasattr(encoder, "forward_tokens") or encoder.num_prefix_tokens != 1:
            raise ValueError(f"PSS token dropping needs a ViT encoder with one CLS token, got "
                             f"{type(encoder).__name__}; use a vit_* model.")
        self.token_drop = token_drop
        self.drop_ratio = 0.0

    def set_drop_ratio(self, drop_ratio: float) -> None:
        """Set d for the following forward passes (checked: kept-token count must be computable)."""
        keep_count(self.encoder.token_grid ** 2, drop_ratio)
        self.drop_ratio = float(drop_ratio)

    @contextlib.contextmanager
    def drop_ratio_set_to(self, drop_ratio: float) -> Iterator[None]:
        """Use ``drop_ratio`` inside the block and restore the previous ratio afterwards (validation: 0)."""
        previous = self.drop_ratio
        self.set_drop_ratio(drop_ratio)
        try:
            yield
        finally:
            self.drop_ratio = previous

    def kept_tokens(self, drop_ratio: float | None = None) -> int:
        """Sequence length the blocks see (CLS included) at ``drop_ratio`` (default: the current one)."""
        ratio = self.drop_ratio if drop_ratio is None else drop_ratio
        return keep_count(self.encoder.token_grid ** 2, ratio) + 1

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised float -> (B, K) logits."""
        if self.drop_ratio == 0:
            return super().forward(images)
        tokens = self.encoder.embed(images)
        keep_index = self.token_drop.keep_index(tokens, images, self.drop_ratio, self.encoder.num_prefix_tokens)
        features = self.encoder.forward_tokens(tokens, keep_index)
        return self.head(self.fc_norm(pool_tokens(features, self.encoder.num_prefix_tokens, self.pooling)))


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "xla":
        import torch_xla

        torch_xla.sync()


@torch.no_grad()
def measure_throughput(model: nn.Module, images: torch.Tensor, *, repeats: int = 3, warmup: int = 1) -> float:
    """Images per second of ``model(images)`` (forward only, eval mode), median of ``repeats`` timed passes.

    Args:
        model: the classifier (its current drop ratio is what is measured).
        images: one (B, 3, H, W) batch on the model's device.
    """
    was_training = model.training
    model.eval()
    for _ in range(warmup):  # first calls allocate / compile (XLA: one graph per kept-token count)
        model(images)
    _synchronize(images.device)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(images)
        _synchronize(images.device)
        timings.append(time.perf_counter() - start)
    model.train(was_training)
    timings.sort()
    return images.shape[0] / max(timings[len(timings) // 2], 1e-9)


def dynamic_inference_sweep(model: TokenDropClassifier, batches: Iterable, runtime: Runtime, *,
                            drop_ratios: Sequence[float] = SWEEP_DROP_RATIOS, throughput_batch: torch.Tensor | None = None,
                            repeats: int = 3) -> list[dict]:
    """Accuracy and measured throughput of one trained classifier at each drop ratio (PSS's ``sweep_drop.py``).

    Args:
        model: a ``TokenDropClassifier`` (any trained fine-tune classifier wrapped in one).
        batches: the validation batches (re-iterated per ratio, e.g. a DataLoader).
        runtime: where to evaluate.
        drop_ratios: d values (default 0, 0.1, ..., 0.8).
        throughput_batch: (B, 3, H, W) images on the device to time; default the first validation batch.
        repeats: timed forward passes per ratio.

    Returns:
        One row per ratio: ``drop_ratio``, ``keep_rate`` (1 − d), ``tokens`` (sequence length, CLS included),
        ``top1``, ``top5``, ``loss``, ``count``, ``images_per_s``.
    """
    if throughput_batch is None:
        first = runtime.to_device(next(iter(batches)))
        throughput_batch = first["image"] if isinstance(first, dict) else first[0]
    rows = []
    for ratio in drop_ratios:
        with model.drop_ratio_set_to(ratio):
            accuracy = evaluate_classifier(model, batches, runtime)
            speed = measure_throughput(model, throughput_batch, repeats=repeats)
            rows.append({"drop_ratio": float(ratio), "keep_rate": round(1.0 - ratio, 6),
                         "tokens": model.kept_tokens(), **accuracy, "images_per_s": round(speed, 2)})
    return rows
