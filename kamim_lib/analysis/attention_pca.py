"""Joint 2-D PCA of a layer's tokens before and after self-attention (SPEC §3).

"Pre" is the block's LN1 output (what attention reads), "post" the attention output (what it adds to the residual
stream). One PCA is fitted on both sets together so the two clouds share axes and can be overlaid.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class JointPCA(NamedTuple):
    """Both token sets projected on the same two principal axes.

    Attributes:
        pre: float64 (M, 2), projection of the pre-attention tokens.
        post: float64 (M', 2), projection of the post-attention tokens.
        explained_variance_ratio: float64 (2,), share of the joint variance on each axis.
        components: float64 (2, D), the principal axes.
        mean: float64 (D,), the joint mean subtracted before projecting.
    """

    pre: np.ndarray
    post: np.ndarray
    explained_variance_ratio: np.ndarray
    components: np.ndarray
    mean: np.ndarray


def _as_rows(tokens, name: str) -> np.ndarray:
    array = tokens.detach().double().cpu().numpy() if isinstance(tokens, torch.Tensor) else np.asarray(tokens, float)
    if array.ndim < 2 or array.shape[-1] < 2:
        raise ValueError(f"{name} must be tokens (..., D) with D >= 2, e.g. (B, N, D), got shape {array.shape}.")
    return array.reshape(-1, array.shape[-1])


def pre_post_attention_pca(pre, post) -> JointPCA:
    """Fit a 2-component PCA on pre- and post-attention tokens jointly and project both.

    Args:
        pre: tokens (..., D), e.g. (B, N, D) LN1 output; slice off CLS beforehand if it should not count.
        post: tokens (..., D) with the same D, e.g. the attention output of the same block.

    Returns:
        A ``JointPCA``; deterministic (full SVD, sklearn's sign convention).
    """
    from sklearn.decomposition import PCA  # deferred: sklearn is slow to import

    pre_rows, post_rows = _as_rows(pre, "pre"), _as_rows(post, "post")
    if pre_rows.shape[1] != post_rows.shape[1]:
        raise ValueError(f"pre and post must share the feature dimension D, got {pre_rows.shape[1]} and "
                         f"{post_rows.shape[1]}.")
    joint = np.concatenate((pre_rows, post_rows))
    if joint.shape[0] < 2:
        raise ValueError("pre and post together must hold at least 2 tokens to fit a PCA.")
    pca = PCA(n_components=2, svd_solver="full").fit(joint)
    return JointPCA(pca.transform(pre_rows), pca.transform(post_rows), pca.explained_variance_ratio_,
                    pca.components_, pca.mean_)
