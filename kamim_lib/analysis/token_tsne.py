"""t-SNE of all patch tokens of a few images from one layer, coloured by class (SPEC §3; naver-ai/cl-vs-mim)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from kamim_lib._validation import check_choice, check_positive
from kamim_lib.analysis.tokens import patch_tokens


class TokenEmbedding(NamedTuple):
    """2-D embedding of B·N tokens.

    Attributes:
        points: float32 (B·N, 2).
        labels: (B·N,), the class label of each token's image.
        image_index: int64 (B·N,), which image each token came from.
    """

    points: np.ndarray
    labels: np.ndarray
    image_index: np.ndarray


TSNE_INITS = ("pca", "random")


def token_tsne(tokens: torch.Tensor, labels, perplexity: float = 20, seed: int = 0, *,
               has_cls: bool | int = True, init: str = "pca") -> TokenEmbedding:
    """Embed every patch token of every image in 2-D with t-SNE (sklearn; PCA initialisation by default).

    Args:
        tokens: one layer's tokens (B, prefix + N, D), tensor or array.
        labels: (B,) class label per image (ints or strings).
        perplexity: t-SNE perplexity (SPEC: 20); must be smaller than B·N.
        seed: ``random_state`` of the optimisation; the same seed and input give the same embedding.
        has_cls: True/False, or the number of leading prefix tokens to drop.
        init: the embedding's initialisation, "pca" (stable across runs) or "random" (drawn from ``seed``; the
            original's ``TSNE(..., init='random')``).

    Returns:
        A ``TokenEmbedding`` with the points, each token's label and image index, in image-then-raster order.
    """
    from sklearn.manifold import TSNE  # sklearn is slow to import; only the notebooks that embed pay for it
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    check_positive("perplexity", perplexity)
    check_choice("init", init, TSNE_INITS)
    patches = patch_tokens(torch.as_tensor(tokens), has_cls, "tokens")
    batch, num_tokens, dim = patches.shape
    labels = np.asarray(labels)
    if labels.shape != (batch,):
        raise ValueError(f"labels must hold one label per image, shape ({batch},), got {labels.shape}.")
    if perplexity >= batch * num_tokens:
        raise ValueError(f"perplexity={perplexity} must be smaller than the number of tokens ({batch * num_tokens}); "
                         "use more images or a smaller perplexity.")
    features = patches.detach().float().cpu().reshape(batch * num_tokens, dim).numpy()
    reducer = TSNE(n_components=2, perplexity=perplexity, init=init, learning_rate="auto", random_state=seed)
    # One OpenMP thread: the Barnes-Hut gradient opens a parallel region per iteration (1000 of them) on a few
    # thousand points at most, so on a busy CPU (torch's own pool, other processes) every region waits for a
    # descheduled thread. Measured on 2 shared cores: 64 points 0.3 s with one thread, 1 to 27 s with two.
    with threadpool_limits(limits=1, user_api="openmp"):
        points = reducer.fit_transform(features).astype(np.float32)
    return TokenEmbedding(points, np.repeat(labels, num_tokens), np.repeat(np.arange(batch), num_tokens))


def image_silhouette(tokens: torch.Tensor, *, has_cls: bool | int = True) -> float:
    """How strongly one layer's patch tokens cluster by image: the silhouette score (cosine distance) of the
    tokens grouped by the image they came from, computed on the tokens themselves (not on the t-SNE points).

    Near 1: each image's tokens form one tight, separate cluster (the contrastive-like picture); near 0 or below:
    the images' tokens intermingle (MIM-like, content-driven).

    Args:
        tokens: (B, prefix + N, D) with B ≥ 2.

    Returns:
        The score in [−1, 1].
    """
    from sklearn.metrics import silhouette_score

    patches = patch_tokens(torch.as_tensor(tokens), has_cls, "tokens")
    batch, num_tokens, dim = patches.shape
    if batch < 2:
        raise ValueError(f"the silhouette by image needs at least 2 images, got {batch}.")
    features = patches.detach().double().cpu().reshape(batch * num_tokens, dim).numpy()
    return float(silhouette_score(features, np.repeat(np.arange(batch), num_tokens), metric="cosine"))
