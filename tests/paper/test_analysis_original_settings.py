"""The original's analysis settings as options (issue 23): the attention maps' query token and images, the
t-SNE's layer and initialisation, the pre/post-attention PCA's block and images; set by the paper, tpu and
paper-dryrun profiles, defaults unchanged elsewhere. Runs sections 07 and 09 on a tiny random-init ViT."""
import numpy as np
import pytest
import torch

from kamim_lib.analysis import pre_post_attention_pca, token_tsne
from kamim_lib.analysis.pixels import unnormalize
from kamim_lib.analysis.collect import layer_tokens, pre_post_attention
from kamim_lib.models import create_model
from kamim_paper.experiments.analysis_inputs import load_analysis_images
from kamim_paper.experiments.analysis_session import AnalysisSetup
from kamim_paper.experiments.token_analysis import analyse_tokens, select_images
from kamim_paper.results.summaries import to_uint8_pixels
from kamim_paper.runner.profiles import load_profile
from kamim_paper.sections import attention, tokens
from kamim_paper.sections.params import AttentionParams, TokensParams

# madhava20217/KAMIM @ 0033db5 (FIDELITY.md E10-E13): self_attention_analysis.ipynb cell 9 (coord_y=8, coord_x=3;
# images batch + i*10 for batch 16, i = 0 … 4); representation_analysis.ipynb (t-SNE depth 11, init='random';
# PCA depth 11 = the last block, sample 8).
ORIGINAL_ATTENTION = {"query": [8, 3], "map_images": [16, 26, 36, 46, 56]}
ORIGINAL_TOKENS = {"tsne_layer": 11, "tsne_init": "random", "pca_block": 12, "pca_images": [8]}


@pytest.mark.parametrize("name", ["paper", "tpu", "paper-dryrun"])
def test_the_paper_profiles_set_the_originals_analysis_settings(name):
    profile = load_profile(name)
    got = profile.parameters_for("attention")
    assert got["analysis_transform"] == "original"
    assert {key: got[key] for key in ORIGINAL_ATTENTION} == ORIGINAL_ATTENTION
    got = profile.parameters_for("tokens")
    assert {key: got[key] for key in ORIGINAL_TOKENS} == ORIGINAL_TOKENS
    # compare_reconstructions.ipynb: all ImageNet-1K val images, squashed (test_reconstructions_imagenet_val.py)
    assert profile.parameters_for("reconstructions")["reconstruction_data"] == "imagenet_val"


def test_the_defaults_keep_todays_behaviour():
    assert AttentionParams().map_images is None and AttentionParams().query is None
    assert attention.map_image_positions(AttentionParams(num_images=8, num_map_images=3)) == [0, 1, 2]
    assert attention.map_image_positions(AttentionParams(num_images=64, map_images=[16, 56])) == [16, 56]
    assert TokensParams().tsne_init == "pca" and TokensParams().pca_images is None
    for name in ("smoke", "tiny"):
        assert "map_images" not in load_profile(name).parameters_for("attention")
        assert "pca_images" not in load_profile(name).parameters_for("tokens")
        assert "reconstruction_data" not in load_profile(name).parameters_for("reconstructions")


@pytest.mark.parametrize("bad", [[], [4], [1, 1], [-1], [True]])
def test_image_positions_are_checked_by_name(bad):
    with pytest.raises(ValueError, match="map_images"):
        AttentionParams(num_images=4, map_images=bad)
    with pytest.raises(ValueError, match="pca_images"):
        TokensParams(num_images=4, pca_images=bad)
    with pytest.raises(ValueError, match="tsne_init"):
        TokensParams(tsne_init="spectral")


def test_a_position_beyond_the_images_taken_is_an_error_naming_it():
    images = torch.zeros(3, 3, 8, 8)
    assert select_images(images, None, "x") is images
    assert torch.equal(select_images(images, [2, 0], "x"), images[[2, 0]])
    with pytest.raises(ValueError, match=r"map_images=\[3\] must be positions among the 3 analysed images"):
        select_images(images, [3], "map_images")


def test_tsne_init_random_is_seeded_and_differs_from_pca():
    generator = torch.Generator().manual_seed(0)
    features, labels = torch.randn(4, 17, 8, generator=generator), np.arange(4)
    first = token_tsne(features, labels, perplexity=5, seed=3, init="random").points
    assert np.array_equal(first, token_tsne(features, labels, perplexity=5, seed=3, init="random").points)
    assert not np.allclose(first, token_tsne(features, labels, perplexity=5, seed=3).points)
    with pytest.raises(ValueError, match="init"):
        token_tsne(features, labels, perplexity=5, init="spectral")


def test_the_pca_projects_only_the_chosen_images_and_the_tsne_uses_its_init():
    torch.manual_seed(0)
    model = create_model("vit_nano").eval()
    size = model.img_size
    images = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(4)
    analysis = analyse_tokens(model, images, labels, tsne_layer=2, pca_block=3, perplexity=5, seed=0,
                              tsne_init="random", pca_images=[2])
    pair = pre_post_attention(model, images[2:3], 3)
    expected = pre_post_attention_pca(pair.pre, pair.post)
    np.testing.assert_allclose(analysis.pca.pre, expected.pre, atol=1e-6)
    assert analysis.pca.pre.shape[0] == pair.pre.shape[0]            # one image's patch tokens
    tokens_2 = layer_tokens(model, images, 2)
    np.testing.assert_array_equal(analysis.tsne.points,
                                  token_tsne(tokens_2, labels.numpy(), perplexity=5, seed=0, init="random",
                                             has_cls=model.encoder.num_prefix_tokens).points)


def _setup(tmp_path):
    return AnalysisSetup(model="vit_nano", checkpoints={}, sources={}, out_dir=tmp_path)


def test_section_07_draws_the_maps_of_the_chosen_images_at_the_chosen_query(tmp_path):
    params = AttentionParams(dataset="digits", split="train", num_images=6, batch_size=6, query=[1, 2],
                             map_images=[1, 4], output_dir=str(tmp_path))
    result = attention.compute(params, _setup(tmp_path))
    size = create_model("vit_nano").img_size
    analysed = load_analysis_images("digits", num_images=6, img_size=size, split="train")
    assert np.array_equal(np.asarray(result.arrays["images"]),
                          np.asarray(to_uint8_pixels(unnormalize(analysed.images[[1, 4]]))))
    assert result["attention_maps"]["query"] == [1, 2] and result["attention_maps"]["num_images"] == 2


def test_section_09_uses_the_pca_images_and_the_tsne_init(tmp_path):
    params = TokensParams(dataset="digits", split="train", num_images=4, batch_size=4, perplexity=5.0,
                          tsne_layer=1, tsne_init="random", pca_block=2, pca_images=[3], output_dir=str(tmp_path))
    result = tokens.compute(params, _setup(tmp_path))
    tokens_per_image = result["tokens"]["num_tokens"] // 4
    for label in result.summary["models"]:
        assert np.asarray(result.arrays[f"pca/{label}/pre"]).shape == (tokens_per_image, 2)
