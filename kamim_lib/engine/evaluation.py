"""Evaluation: top-1/top-5 accuracy of a classifier, and kNN classification on frozen features.

Both run over this process's shard of the validation set and combine counts (or features) across processes, so
the numbers are exact for the whole set whatever the number of devices.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
import torch.nn.functional as F

from kamim_lib._validation import check_choice
from kamim_lib.config.schema import EVAL_PRECISIONS
from kamim_lib.runtime import Runtime, tf32_matmuls


def _forward_context(runtime: Runtime, precision: str):
    """fp32 (the original validates without autocast, and its GPU scripts with PyTorch's default of no TF32) or
    the runtime's training autocast. fp32 turns TF32 off inside the block even when ``tf32`` left it on for
    training (``tf32=auto`` on CUDA), and restores it after."""
    check_choice("precision", precision, EVAL_PRECISIONS)
    return runtime.autocast() if precision == "autocast" else tf32_matmuls(False)


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> torch.Tensor:
    """Number of samples whose label is among the top-k logits, for each k.

    Args:
        logits: (B, K) scores.
        labels: (B,) int64.
        ks: the k values; a k larger than K counts every sample.

    Returns:
        float64 tensor (len(ks),) of counts, on ``logits.device``.
    """
    max_k = min(max(ks), logits.shape[1])
    top = logits.topk(max_k, dim=1).indices  # (B, max_k)
    hits = top.eq(labels.view(-1, 1))
    return torch.stack([hits[:, :min(k, max_k)].any(dim=1).sum() for k in ks]).to(torch.float64)


@torch.no_grad()
def evaluate_classifier(model: torch.nn.Module, batches: Iterable, runtime: Runtime, *,
                        precision: str = "fp32") -> dict[str, float]:
    """Top-1/top-5 accuracy (%) and mean cross-entropy of ``model`` over ``batches`` of (images, labels).

    Args:
        model: images (B, 3, H, W) -> logits (B, K); put in eval mode here and restored afterwards.
        batches: this process's validation batches (a list/loader of ``(images, labels)`` or dicts with
            "image"/"label"); moved with ``runtime.to_device``.
        runtime: sums the counts over processes.
        precision: "fp32" (the original) or "autocast" (the runtime's training precision, e.g. bf16).

    Returns:
        ``{"top1", "top5", "loss", "count"}`` over the whole validation set.
    """
    was_training = model.training
    model.eval()
    totals = torch.zeros(4, dtype=torch.float64, device=runtime.device)  # top1, top5, loss sum, count
    for batch in runtime.wrap_loader(batches):
        batch = runtime.to_device(batch)
        images, labels = (batch["image"], batch["label"]) if isinstance(batch, dict) else batch
        with _forward_context(runtime, precision):
            logits = model(images)
        logits = logits.float()
        correct = topk_correct(logits, labels)
        loss_sum = F.cross_entropy(logits, labels, reduction="sum").to(torch.float64)
        totals += torch.stack([correct[0], correct[1], loss_sum,
                               torch.tensor(float(labels.shape[0]), dtype=torch.float64, device=totals.device)])
    model.train(was_training)
    top1, top5, loss_sum, count = runtime.all_reduce_sum(totals).tolist()
    if count == 0:
        raise ValueError("the validation set is empty; check the dataset split or max_eval_samples.")
    return {"top1": 100.0 * top1 / count, "top5": 100.0 * top5 / count, "loss": loss_sum / count,
            "count": int(count)}


@torch.no_grad()
def extract_features(feature_fn: Callable[[torch.Tensor], torch.Tensor], batches: Iterable,
                     runtime: Runtime, *, precision: str = "fp32") -> tuple[torch.Tensor, torch.Tensor]:
    """Features and labels of every sample, gathered from all processes.

    Args:
        feature_fn: images (B, 3, H, W) -> (B, D) features (e.g. ``LinearProbe.features``).
        batches: this process's ``(images, labels)`` batches.
        runtime: gathers the shards.
        precision: "fp32" or "autocast", as :func:`evaluate_classifier`.

    Returns:
        ``(features (N, D) float32 on the CPU, labels (N,) int64)`` in process-then-batch order.
    """
    features, labels = [], []
    for batch in runtime.wrap_loader(batches):
        batch = runtime.to_device(batch)
        images, batch_labels = (batch["image"], batch["label"]) if isinstance(batch, dict) else batch
        with _forward_context(runtime, precision):
            output = feature_fn(images)
        features.append(output.float().cpu())
        labels.append(batch_labels.cpu())
    local = (torch.cat(features) if features else torch.zeros(0, 0),
             torch.cat(labels) if labels else torch.zeros(0, dtype=torch.int64))
    shards = runtime.all_gather_object(local)
    shards = [shard for shard in shards if shard[0].numel()]
    return torch.cat([shard[0] for shard in shards]), torch.cat([shard[1] for shard in shards])


@torch.no_grad()
def knn_classify(train_features: torch.Tensor, train_labels: torch.Tensor, query_features: torch.Tensor, *,
                 num_classes: int, k: int = 20, temperature: float = 0.07, chunk_size: int = 1024) -> torch.Tensor:
    """Weighted kNN on cosine similarity (the DINO protocol): class scores Σ_{top-k} exp(cos / T) per label.

    Args:
        train_features: (N, D) reference features.
        train_labels: (N,) int64 in 0..num_classes-1.
        query_features: (M, D).
        num_classes: K.
        k: neighbours (capped at N).
        temperature: T > 0.
        chunk_size: queries per similarity block (bounds memory at chunk_size x N).

    Returns:
        (M, K) float32 class scores (argmax = prediction).
    """
    if train_features.ndim != 2 or query_features.ndim != 2 or train_features.shape[1] != query_features.shape[1]:
        raise ValueError(f"features must be (N, D) and (M, D) with the same D, got {tuple(train_features.shape)} "
                         f"and {tuple(query_features.shape)}.")
    if k <= 0 or temperature <= 0:
        raise ValueError(f"k must be >= 1 and temperature > 0, got k={k}, temperature={temperature}.")
    reference = F.normalize(train_features.float(), dim=1)
    queries = F.normalize(query_features.float(), dim=1)
    k = min(k, reference.shape[0])
    scores = []
    for start in range(0, queries.shape[0], chunk_size):
        similarity = queries[start:start + chunk_size] @ reference.T  # (m, N)
        top_similarity, top_index = similarity.topk(k, dim=1)
        weights = (top_similarity / temperature).exp()
        votes = torch.zeros(similarity.shape[0], num_classes, dtype=torch.float32, device=similarity.device)
        votes.scatter_add_(1, train_labels.to(similarity.device)[top_index], weights)
        scores.append(votes)
    return torch.cat(scores)


def knn_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor, val_features: torch.Tensor,
                 val_labels: torch.Tensor, *, num_classes: int, k: int = 20,
                 temperature: float = 0.07) -> dict[str, float]:
    """kNN top-1/top-5 accuracy (%) of the validation features against the training features."""
    scores = knn_classify(train_features, train_labels, val_features, num_classes=num_classes, k=k,
                          temperature=temperature)
    correct = topk_correct(scores, val_labels.to(scores.device))
    count = val_labels.shape[0]
    return {"knn_top1": 100.0 * float(correct[0]) / count, "knn_top5": 100.0 * float(correct[1]) / count,
            "knn_k": k, "knn_temperature": temperature}
