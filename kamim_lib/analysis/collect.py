"""Run a model on a batch of images and collect the per-layer statistics of SPEC §3.

Every function here takes a ``MaskedImageModel`` (``kamim_lib.models``) and ImageNet-normalised images
(B, 3, H, W) at the model's ``img_size``, runs the encoder under ``torch.no_grad`` in eval mode (the model's
train/eval mode is restored afterwards), ``batch_size`` images at a time on the model's device, and returns CPU
tensors. Statistics that average over images (attention distance, NMI, Fourier spectra) are combined across
batches weighted by batch size, so the result does not depend on ``batch_size``.

Layers are numbered as in SPEC §3 and ``model_layout``: blocks 1 … L; hidden state 0 is the embedding output.

    attention_statistics  mean attention distance and NMI per block, per head and averaged
    attention_maps        one head's attention of one query token over the patch grid, per image
    fourier_statistics    ΔLog amplitude and diagonal profiles of every hidden state
    layer_tokens          the tokens of one hidden state (for the t-SNE)
    pre_post_attention    a block's LN1 output and attention output (for the joint PCA)
    token_similarity_per_block   mean cosine similarity of patch tokens before / after each block's attention
    reconstruct           predictions and PSNR/SSIM (masked region and full image) on un-normalised pixels
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from kamim_lib._validation import check_positive
from kamim_lib.analysis.attention_distance import mean_attention_distance, token_distance_matrix
from kamim_lib.analysis.attention_maps import attention_map
from kamim_lib.analysis.attention_nmi import attention_nmi
from kamim_lib.analysis.fourier import FourierAnalysis, fourier_diagonal_profile
from kamim_lib.analysis.hooks import record_outputs
from kamim_lib.analysis.model_layout import (block_token_sizes, check_block, check_hidden_layer, encoder_blocks,
                                             evaluation_mode)
from kamim_lib.analysis.original_metrics import original_reconstruction_metrics
from kamim_lib.analysis.pixels import unnormalize
from kamim_lib.analysis.reconstruction import reconstruction_metrics
from kamim_lib.analysis.token_similarity import mean_token_cosine_similarity
from kamim_lib.analysis.tokens import grid_side


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters (the first one's: a model is on one device here)."""
    return next(model.parameters()).device


def _check_inputs(model: nn.Module, images: torch.Tensor, mask: torch.Tensor | None, batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    size = model.img_size
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (3, size, size):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be normalised floats (B, 3, {size}, {size}) for this model "
                         f"(img_size={size}), got {shape}.")
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.shape[0] != images.shape[0]):
        raise ValueError(f"mask must be a token mask (B, g, g) with one mask per image ({images.shape[0]}), got "
                         f"{tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__}.")


def _batches(model: nn.Module, images: torch.Tensor, mask: torch.Tensor | None,
             batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Consecutive slices of ``images`` (and ``mask``) of at most ``batch_size``, on the model's device."""
    _check_inputs(model, images, mask, batch_size)
    device = model_device(model)
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start:start + batch_size].to(device=device, dtype=torch.float32)
        yield chunk, None if mask is None else mask[start:start + batch_size].to(device)


def _weighted_mean(parts: list[tuple[int, object]]):
    """Σ n·value / Σ n over (n, value) pairs; values are tensors or lists of tensors of equal structure."""
    total = sum(count for count, _ in parts)
    first = parts[0][1]
    if isinstance(first, list):
        return [sum(count * value[i] for count, value in parts) / total for i in range(len(first))]
    return sum(count * value for count, value in parts) / total


@dataclass
class AttentionStatistics:
    """Per-block attention statistics of one model (SPEC §3).

    Attributes:
        layers: block numbers 1 … L.
        distance_px: float (L,), mean attention distance in pixels, averaged over queries, images and heads.
        distance_px_per_head: L tensors (heads,) (heads may differ between Swin stages).
        nmi: float (L,), normalised mutual information averaged over images and heads.
        nmi_per_head: L tensors (heads,).
        uniform_distance_px: float (L,), the distance that uniform attention gives on each block's token grid
            (ViT-B at 192 px: 99.75 px at every block): the value an untrained, featureless attention approaches.
            Swin: uniform over one whole window; shifted-window blocks mask keys across regions, so even
            uniform attention stays below it there.
        num_images: images averaged over.
    """

    layers: list[int]
    distance_px: torch.Tensor
    distance_px_per_head: list[torch.Tensor]
    nmi: torch.Tensor
    nmi_per_head: list[torch.Tensor]
    uniform_distance_px: torch.Tensor
    num_images: int


@torch.no_grad()
def attention_statistics(model: nn.Module, images: torch.Tensor, mask: torch.Tensor | None = None, *,
                         batch_size: int = 32) -> AttentionStatistics:
    """Mean attention distance and NMI of every block, per head and averaged over heads.

    Args:
        model: a ``MaskedImageModel``.
        images: ImageNet-normalised float (B, 3, H, W), H = W = ``model.img_size``.
        mask: optional token mask (B, g, g), 1 = masked (the analyses of SPEC §3 use unmasked images: None).
        batch_size: images per forward pass.

    Returns:
        ``AttentionStatistics`` on the CPU.
    """
    token_sizes = block_token_sizes(model)
    prefix = model.encoder.num_prefix_tokens
    distances, nmis, grids = [], [], None
    with evaluation_mode(model):
        for chunk, chunk_mask in _batches(model, images, mask, batch_size):
            attentions = model.encoder.forward_intermediates(chunk, chunk_mask, return_attention=True).attentions
            distances.append((chunk.shape[0], [mean_attention_distance(a, s, prefix).cpu()
                                               for a, s in zip(attentions, token_sizes)]))
            nmis.append((chunk.shape[0], [attention_nmi(a, prefix).cpu() for a in attentions]))
            grids = [grid_side(a.shape[-1] - prefix, "attention") for a in attentions]
    per_head_distance, per_head_nmi = _weighted_mean(distances), _weighted_mean(nmis)
    uniform = torch.stack([token_distance_matrix(g, s, dtype=torch.float64).mean().float()
                           for g, s in zip(grids, token_sizes)])
    return AttentionStatistics(
        layers=list(range(1, len(per_head_distance) + 1)),
        distance_px=torch.stack([values.mean() for values in per_head_distance]),
        distance_px_per_head=per_head_distance,
        nmi=torch.stack([values.mean() for values in per_head_nmi]),
        nmi_per_head=per_head_nmi,
        uniform_distance_px=uniform,
        num_images=images.shape[0],
    )


@dataclass
class AttentionMaps:
    """One head's attention of one query token, per image.

    Attributes:
        maps: float (B, g, g), each map summing to 1 (CLS dropped, row renormalised).
        query: (row, col) of the query token on the g x g grid.
        block: block number 1 … L.
        head: head index.
    """

    maps: torch.Tensor
    query: tuple[int, int]
    block: int
    head: int


@torch.no_grad()
def attention_maps(model: nn.Module, images: torch.Tensor, *, head: int = 0,
                   query: int | tuple[int, int] | None = None, block: int = -1,
                   batch_size: int = 32) -> AttentionMaps:
    """Where one query patch looks in one head of one block (SPEC §3: the last block), for every image.

    Args:
        model: a ``MaskedImageModel``. For Swin the block must attend over one window per image (true of the last
            block at the paper's sizes, whose window covers the whole last-stage grid).
        images: ImageNet-normalised float (B, 3, H, W).
        head: head index, 0 ≤ head < heads of that block.
        query: the query patch as its raster index (CLS not counted) or (row, col) on the block's token grid;
            None = the centre cell (g // 2, g // 2).
        block: block number 1 … L, or −1 for the last block.
        batch_size: images per forward pass.

    Returns:
        ``AttentionMaps`` on the CPU.
    """
    index = check_block(model, block)
    prefix = model.encoder.num_prefix_tokens
    maps, cell = [], None
    with evaluation_mode(model):
        for chunk, _ in _batches(model, images, None, batch_size):
            attention = model.encoder.forward_intermediates(chunk, return_attention=True).attentions[index - 1]
            if attention.shape[0] != chunk.shape[0]:
                raise ValueError(f"block {index} attends within {attention.shape[0] // chunk.shape[0]} windows per "
                                 "image; attention maps need one attention context per image (use the last block).")
            side = grid_side(attention.shape[-1] - prefix, "attention")
            if query is None:
                cell = (side // 2, side // 2)
            elif isinstance(query, int) and not isinstance(query, bool):
                cell = divmod(query, side)
            else:
                cell = tuple(query)
            maps.append(attention_map(attention, cell if query is None else query, head, has_cls=prefix).cpu())
    return AttentionMaps(torch.cat(maps), cell, index, head)


@dataclass
class FourierStatistics:
    """ΔLog amplitude of every hidden state of one model (SPEC §3).

    Attributes:
        layers: labels ``["x", 1, …, L]``: the embedding output, then each block's output.
        analysis: ``FourierAnalysis`` with ``delta_log_amplitude`` (L + 1,) and the diagonal profiles.
        num_images: images averaged over.
    """

    layers: list[int | str]
    analysis: FourierAnalysis
    num_images: int


@torch.no_grad()
def fourier_statistics(model: nn.Module, images: torch.Tensor, mask: torch.Tensor | None = None, *,
                       batch_size: int = 32) -> FourierStatistics:
    """Relative log amplitude of the Fourier-transformed feature maps of every hidden state.

    The diagonal profile is linear in the batch-averaged log spectrum, so averaging per-batch profiles weighted
    by batch size gives exactly the profile of the whole set.

    Args:
        model: a ``MaskedImageModel``.
        images: ImageNet-normalised float (B, 3, H, W).
        mask: optional token mask (B, g, g) (None in SPEC §3).
        batch_size: images per forward pass.

    Returns:
        ``FourierStatistics`` on the CPU.
    """
    prefix = model.encoder.num_prefix_tokens
    parts, frequencies = [], None
    with evaluation_mode(model):
        for chunk, chunk_mask in _batches(model, images, mask, batch_size):
            hidden_states = model.encoder.forward_intermediates(chunk, chunk_mask).hidden_states
            profiles = [fourier_diagonal_profile(h, prefix) for h in hidden_states]
            parts.append((chunk.shape[0], [p.relative_log_amplitude.cpu() for p in profiles]))
            frequencies = [p.frequencies.cpu() for p in profiles]
    profiles = _weighted_mean(parts)
    analysis = FourierAnalysis(delta_log_amplitude=torch.stack([p[-1] for p in profiles]), profiles=profiles,
                               frequencies=frequencies)
    return FourierStatistics(layers=["x", *range(1, len(profiles))], analysis=analysis, num_images=images.shape[0])


@torch.no_grad()
def layer_tokens(model: nn.Module, images: torch.Tensor, layer: int = -1, *, mask: torch.Tensor | None = None,
                 batch_size: int = 32) -> torch.Tensor:
    """The tokens of one hidden state, e.g. for the token t-SNE.

    Args:
        model: a ``MaskedImageModel``.
        images: ImageNet-normalised float (B, 3, H, W).
        layer: 0 = embedding output, k = output of block k (1 … L), −1 = the last block's output (before the
            final LayerNorm).
        mask: optional token mask (B, g, g).
        batch_size: images per forward pass.

    Returns:
        float (B, prefix + N, D) on the CPU (ViT: CLS first; drop ``model.encoder.num_prefix_tokens``).
    """
    index = check_hidden_layer(model, layer)
    tokens = []
    with evaluation_mode(model):
        for chunk, chunk_mask in _batches(model, images, mask, batch_size):
            tokens.append(model.encoder.forward_intermediates(chunk, chunk_mask).hidden_states[index].cpu())
    return torch.cat(tokens)


@dataclass
class PrePostAttention:
    """A block's tokens before and after self-attention.

    Attributes:
        pre: float (M, D): the block's LN1 output (what attention reads), patch tokens only.
        post: float (M', D): the attention output (after the output projection, before the residual add),
            patch tokens only. ViT: M = M' = B·N in image-then-raster order. Swin: ``pre`` in raster order,
            ``post`` in (shifted) window order, padded windows included.
        block: the block number 1 … L.
    """

    pre: torch.Tensor
    post: torch.Tensor
    block: int


def _patch_rows(tokens: torch.Tensor, prefix: int) -> torch.Tensor:
    """(..., D) tokens as (M, D) rows with the prefix tokens of (B, T, D) sequences dropped."""
    if tokens.ndim == 3:
        tokens = tokens[:, prefix:]
    return tokens.reshape(-1, tokens.shape[-1])


@torch.no_grad()
def pre_post_attention(model: nn.Module, images: torch.Tensor, block: int = -1, *,
                       mask: torch.Tensor | None = None, batch_size: int = 32) -> PrePostAttention:
    """Record a block's LN1 output and attention output with forward hooks (removed afterwards).

    Args:
        model: a ``MaskedImageModel``.
        images: ImageNet-normalised float (B, 3, H, W).
        block: block number 1 … L, or −1 for the last block.
        mask: optional token mask (B, g, g).
        batch_size: images per forward pass.

    Returns:
        ``PrePostAttention`` on the CPU.
    """
    index = check_block(model, block)
    watched = encoder_blocks(model)[index - 1]
    prefix = model.encoder.num_prefix_tokens
    pre, post = [], []
    with evaluation_mode(model):
        for chunk, chunk_mask in _batches(model, images, mask, batch_size):
            with record_outputs({"pre": watched.norm1, "post": watched.attn}) as outputs:
                model.encoder.forward_features(chunk, chunk_mask)
            pre.append(_patch_rows(outputs["pre"], prefix).cpu())
            post.append(_patch_rows(outputs["post"], prefix).cpu())
    return PrePostAttention(torch.cat(pre), torch.cat(post), index)


@dataclass
class TokenSimilarity:
    """Mean pairwise cosine similarity of one image's patch tokens, per block (1 = all tokens identical).

    Attributes:
        layers: block numbers 1 … L.
        pre_attention: float (L,), of each block's LN1 output.
        post_attention: float (L,), of each block's attention output; a value near 1 means attention sends the
            same vector to every token (the "homogeneous attention" that contrastive learning shows).
        num_images: images averaged over.
    """

    layers: list[int]
    pre_attention: torch.Tensor
    post_attention: torch.Tensor
    num_images: int


@torch.no_grad()
def token_similarity_per_block(model: nn.Module, images: torch.Tensor, *, mask: torch.Tensor | None = None,
                               batch_size: int = 32) -> TokenSimilarity:
    """Mean cosine similarity between the patch tokens of each image before and after every block's attention.

    ViT only: Swin's attention output comes per window, not per image.

    Args:
        model: a ViT ``MaskedImageModel``.
        images: ImageNet-normalised float (B, 3, H, W).
        mask: optional token mask (B, g, g).
        batch_size: images per forward pass.

    Returns:
        ``TokenSimilarity`` on the CPU.
    """
    if not hasattr(model.encoder, "blocks"):
        raise ValueError("token_similarity_per_block needs a ViT model: Swin's attention output is per window.")
    blocks = encoder_blocks(model)
    prefix = model.encoder.num_prefix_tokens
    watched = {}
    for number, block in enumerate(blocks, 1):
        watched[f"pre{number}"], watched[f"post{number}"] = block.norm1, block.attn
    parts = []
    with evaluation_mode(model):
        for chunk, chunk_mask in _batches(model, images, mask, batch_size):
            with record_outputs(watched) as outputs:
                model.encoder.forward_features(chunk, chunk_mask)
            values = [mean_token_cosine_similarity(outputs[f"{kind}{number}"], prefix).cpu()
                      for kind in ("pre", "post") for number in range(1, len(blocks) + 1)]
            parts.append((chunk.shape[0], values))
    values = _weighted_mean(parts)
    depth = len(blocks)
    return TokenSimilarity(list(range(1, depth + 1)), torch.stack(values[:depth]), torch.stack(values[depth:]),
                           images.shape[0])


@dataclass
class Reconstruction:
    """A model's reconstructions of masked images, scored on un-normalised pixels.

    Attributes:
        prediction: float (B, 3, H, W), the decoder output un-normalised and clamped to [0, 1] (every pixel,
            visible ones included, as the model outputs them).
        metrics: ``psnr_masked``, ``psnr_full`` (dB), ``ssim_masked``, ``ssim_full``: float (B,) each
            (kamim's convention: per image, un-normalised pixels in [0, 1]).
        original_metrics: ``psnr_full``, ``ssim_full`` under the original's convention (torchmetrics defaults on
            the normalised full images, one number for the batch; ``original_metrics``).
    """

    prediction: torch.Tensor
    metrics: dict[str, torch.Tensor]
    original_metrics: dict[str, float]


@torch.no_grad()
def reconstruct(model: nn.Module, images: torch.Tensor, mask: torch.Tensor, *, batch_size: int = 32,
                max_psnr_db: float | None = 100.0) -> Reconstruction:
    """Reconstruct masked images and score them (``reconstruction_metrics``: masked region and full image).

    Args:
        model: a ``MaskedImageModel``.
        images: ImageNet-normalised float (B, 3, H, W).
        mask: token mask (B, g, g), 1 = masked; give every model the same masks to compare them.
        batch_size: images per forward pass.
        max_psnr_db: cap for PSNR so a perfect reconstruction stays a finite JSON number (None: no cap).

    Returns:
        ``Reconstruction`` on the CPU.
    """
    if mask is None:
        raise ValueError("mask is required: reconstruction is scored on the masked region (draw one with "
                         "kamim_lib.masking.random_cell_masks).")
    if max_psnr_db is not None:
        check_positive("max_psnr_db", max_psnr_db)
    predictions, normalised, parts = [], [], []
    with evaluation_mode(model):
        for chunk, chunk_mask in _batches(model, images, mask, batch_size):
            prediction = model(chunk, chunk_mask)
            scores = reconstruction_metrics(prediction, chunk, chunk_mask, max_psnr_db=max_psnr_db)
            normalised.append(prediction.cpu())
            predictions.append(unnormalize(prediction).cpu())
            parts.append({name: value.cpu() for name, value in scores.items()})
    metrics = {name: torch.cat([part[name] for part in parts]) for name in parts[0]}
    original = original_reconstruction_metrics(torch.cat(normalised), images.detach().cpu())
    return Reconstruction(torch.cat(predictions), metrics, original)
