"""Everything the token notebook measures for one model: t-SNE of one layer's tokens, the joint PCA of one
block's pre/post-attention tokens, and (ViT) the per-block token homogeneity."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kamim_lib.analysis.attention_pca import JointPCA, pre_post_attention_pca
from kamim_lib.analysis.collect import TokenSimilarity, layer_tokens, pre_post_attention, token_similarity_per_block
from kamim_lib.analysis.model_layout import check_block, check_hidden_layer
from kamim_lib.analysis.token_tsne import TokenEmbedding, image_silhouette, token_tsne


@dataclass
class TokenAnalysis:
    """One model's token analysis.

    Attributes:
        tsne_layer: hidden-state index embedded (0 = embedding output, k = block k).
        tsne: ``TokenEmbedding`` of every patch token of every image (labels = the image's class).
        pca_block: block whose LN1 output and attention output were projected.
        pca: ``JointPCA`` of those two token sets.
        similarity: per-block token cosine similarity before/after attention (ViT), None for Swin.
        image_silhouette: silhouette (cosine) of the t-SNE layer's tokens grouped by image (``image_silhouette``).
    """

    tsne_layer: int
    tsne: TokenEmbedding
    pca_block: int
    pca: JointPCA
    similarity: TokenSimilarity | None
    image_silhouette: float


def analyse_tokens(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, tsne_layer: int | None = None,
                   pca_block: int | None = None, perplexity: float = 20, seed: int = 0,
                   batch_size: int = 32, similarity: TokenSimilarity | None = None, tsne_init: str = "pca",
                   pca_images: list[int] | None = None) -> TokenAnalysis:
    """Run the token analyses of SPEC §3 on one model.

    Args:
        model: a ``MaskedImageModel``.
        images: ImageNet-normalised float (B, 3, H, W).
        labels: (B,) class of each image (colours the t-SNE).
        tsne_layer: hidden state to embed: 0 = embedding output, k = block k; None = the last block.
        pca_block: block 1 … L for the pre/post-attention PCA; None = the last block.
        perplexity: t-SNE perplexity (SPEC: 20); must be below the number of tokens B·N.
        seed: t-SNE random state.
        batch_size: images per forward pass.
        similarity: the model's ``token_similarity_per_block`` when already computed (ViT).
        tsne_init: t-SNE initialisation, "pca" or "random" (the original's).
        pca_images: positions (0-based) in ``images`` of the images whose tokens the PCA projects; None = all
            (the original: ``[8]``, one image).

    Returns:
        ``TokenAnalysis``.
    """
    layer = check_hidden_layer(model, -1 if tsne_layer is None else tsne_layer, "tsne_layer")
    block = check_block(model, -1 if pca_block is None else pca_block, "pca_block")
    prefix = model.encoder.num_prefix_tokens
    tokens = layer_tokens(model, images, layer, batch_size=batch_size)
    embedding = token_tsne(tokens, np.asarray(labels), perplexity=perplexity, seed=seed, has_cls=prefix,
                           init=tsne_init)
    pair = pre_post_attention(model, select_images(images, pca_images, "pca_images"), block, batch_size=batch_size)
    if similarity is None and hasattr(model.encoder, "blocks"):
        similarity = token_similarity_per_block(model, images, batch_size=batch_size)
    return TokenAnalysis(layer, embedding, block, pre_post_attention_pca(pair.pre, pair.post), similarity,
                         image_silhouette(tokens, has_cls=prefix))


def select_images(images: torch.Tensor, positions: list[int] | None, name: str) -> torch.Tensor:
    """``images[positions]`` (all of them for None), naming ``name`` when a position is not among the images
    (e.g. the original's selection held fewer images than asked)."""
    if positions is None:
        return images
    bad = [position for position in positions if not 0 <= position < images.shape[0]]
    if bad or not positions:
        raise ValueError(f"{name}={list(positions)} must be positions among the {images.shape[0]} analysed images "
                         f"(0 … {images.shape[0] - 1}).")
    return images[list(positions)]


def most_different_block(similarities: dict[str, TokenSimilarity | None]) -> int | None:
    """The block (1 … L) where the models' post-attention token similarity spreads most (max − min over models):
    where a pre/post-attention PCA has the most to show. Only models with the first one's depth take part.

    Returns:
        The block, or None when fewer than two ViT models of one depth are given.
    """
    curves = [s.post_attention.double() for s in similarities.values() if s is not None]
    curves = [curve for curve in curves if curves and curve.shape == curves[0].shape]
    if len(curves) < 2:
        return None
    stacked = torch.stack(curves)
    spread = torch.nan_to_num(stacked.amax(dim=0) - stacked.amin(dim=0), nan=-1.0)
    return int(spread.argmax()) + 1


def analyse_token_models(models: dict[str, nn.Module], inputs: dict, *, tsne_layer: int | None = None,
                         pca_block: int | None = None, perplexity: float = 20, seed: int = 0,
                         batch_size: int = 32, tsne_init: str = "pca",
                         pca_images: list[int] | None = None) -> dict[str, TokenAnalysis]:
    """``analyse_tokens`` for every model; ``pca_block`` None = ``most_different_block`` of their homogeneity
    curves (each model's last block when they cannot be compared).

    Args:
        models: label -> model. inputs: label -> ``AnalysisImages`` (images and labels).
        tsne_init / pca_images: see ``analyse_tokens`` (the block choice of ``pca_block`` None uses all images).
    """
    similarities = {label: token_similarity_per_block(model, inputs[label].images, batch_size=batch_size)
                    if hasattr(model.encoder, "blocks") else None for label, model in models.items()}
    block = pca_block if pca_block is not None else most_different_block(similarities)
    return {label: analyse_tokens(model, inputs[label].images, inputs[label].labels, tsne_layer=tsne_layer,
                                  pca_block=block, perplexity=perplexity, seed=seed, batch_size=batch_size,
                                  similarity=similarities[label], tsne_init=tsne_init, pca_images=pca_images)
            for label, model in models.items()}


def token_arrays(analyses: dict[str, TokenAnalysis]) -> dict[str, np.ndarray]:
    """The point clouds of every model, keyed for ``summaries.write_arrays`` and ``figures.tsne_figure`` /
    ``figures.pca_figure``: ``tsne/labels``, ``tsne/<label>/points``, ``pca/<label>/{pre,post,
    explained_variance_ratio,components,mean}``."""
    arrays: dict[str, np.ndarray] = {}
    for label, analysis in analyses.items():
        arrays["tsne/labels"] = analysis.tsne.labels
        arrays["tsne/image_index"] = analysis.tsne.image_index
        arrays[f"tsne/{label}/points"] = analysis.tsne.points
        for field in ("pre", "post", "explained_variance_ratio", "components", "mean"):
            arrays[f"pca/{label}/{field}"] = np.asarray(getattr(analysis.pca, field), dtype=np.float32)
    return arrays
