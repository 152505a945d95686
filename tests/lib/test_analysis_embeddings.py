import numpy as np
import pytest
import torch

from kamim_lib.analysis import pre_post_attention_pca, token_tsne


def clustered_tokens(images=4, tokens=16, dim=12, seed=0):
    """Each image's tokens scatter tightly around the centre of its class; classes are far apart."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor([0, 1, 0, 1][:images])
    centres = torch.randn(2, dim, generator=generator) * 20
    patches = centres[labels].unsqueeze(1) + 0.1 * torch.randn(images, tokens, dim, generator=generator)
    with_cls = torch.cat((torch.full((images, 1, dim), 1e3), patches), dim=1)
    return with_cls, labels


def test_tsne_embeds_every_patch_token_with_its_label():
    tokens, labels = clustered_tokens()
    result = token_tsne(tokens, labels, perplexity=10, seed=0)
    assert result.points.shape == (64, 2) and result.points.dtype == np.float32
    assert np.array_equal(result.labels, np.repeat(labels.numpy(), 16))
    assert np.array_equal(result.image_index, np.repeat(np.arange(4), 16))
    # Class clusters stay apart: every token's nearest neighbour in 2-D has its class.
    distances = np.linalg.norm(result.points[:, None] - result.points[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert np.array_equal(result.labels[distances.argmin(axis=1)], result.labels)


def test_tsne_is_deterministic_for_a_seed():
    tokens, labels = clustered_tokens()
    first = token_tsne(tokens, labels, perplexity=10, seed=3).points
    second = token_tsne(tokens, labels, perplexity=10, seed=3).points
    assert np.allclose(first, second, atol=1e-5)


def test_tsne_rejects_bad_labels_and_perplexity():
    tokens, labels = clustered_tokens()
    with pytest.raises(ValueError, match="labels"):
        token_tsne(tokens, labels[:3])
    with pytest.raises(ValueError, match="perplexity"):
        token_tsne(tokens, labels, perplexity=64)
    with pytest.raises(ValueError, match="perplexity"):
        token_tsne(tokens, labels, perplexity=0)


def test_joint_pca_shares_axes_between_pre_and_post():
    generator = torch.Generator().manual_seed(0)
    dim = 6
    # Both sets lie in the plane spanned by e0 and e1, offset along e0: the joint fit must find that plane.
    pre = torch.zeros(2, 10, dim)
    post = torch.zeros(2, 10, dim)
    pre[..., 0], pre[..., 1] = torch.randn(2, 10, generator=generator), torch.randn(2, 10, generator=generator)
    post[..., 0], post[..., 1] = torch.randn(2, 10, generator=generator) + 8, torch.randn(2, 10, generator=generator)
    result = pre_post_attention_pca(pre, post)
    assert result.pre.shape == (20, 2) and result.post.shape == (20, 2)
    assert result.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert abs(result.components[0, 0]) > 0.99                            # PC1 ≈ the offset direction
    assert np.allclose(result.components[:, 2:], 0)                        # both axes in the e0-e1 plane
    assert abs(result.post[:, 0].mean() - result.pre[:, 0].mean()) == pytest.approx(8, abs=1.5)
    # Projections onto the plane keep in-plane distances.
    joint = torch.cat((pre, post)).reshape(-1, dim).double().numpy()
    projected = np.concatenate((result.pre, result.post))
    original = np.linalg.norm(joint[:, None] - joint[None], axis=-1)
    assert np.allclose(np.linalg.norm(projected[:, None] - projected[None], axis=-1), original)


def test_joint_pca_is_deterministic_and_checks_dims():
    pre, post = torch.randn(3, 5, 8), torch.randn(3, 5, 8)
    first, second = pre_post_attention_pca(pre, post), pre_post_attention_pca(pre, post)
    assert np.array_equal(first.pre, second.pre) and np.array_equal(first.post, second.post)
    with pytest.raises(ValueError, match="feature dimension"):
        pre_post_attention_pca(pre, torch.randn(3, 5, 7))
