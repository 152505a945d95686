"""Section 9's API (kamim_paper.sections.tokens): tables, the silhouettes shown in the t-SNE titles and the generated
conclusions from hand-made summaries, known answers; the notebook runs end to end in test_analysis_notebooks.py."""
from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.sections import tokens
from kamim_paper.sections.outputs import SectionResult


def _rows(values):
    return {"layer": list(range(1, len(values) + 1)), "value": list(values)}


def _model(pre, post, silhouette):
    return {"token_cosine_similarity_pre_attention": _rows(pre), "token_cosine_similarity_post_attention": _rows(post),
            "tsne_image_silhouette": silhouette}


def _result(tmp_path, models) -> SectionResult:
    summary = {"model": "vit_micro12", "provenance": {"profile": "tiny"}, "tokens": {"tsne_layer": 4, "pca_block": 3},
               "models": models}
    return SectionResult("tokens", tokens.Params(profile="tiny", dataset="textured_digits"), tmp_path, summary)


MODELS = {"simmim": _model([0.5, 0.6], [0.3, 0.4], 0.25), "kamim": _model([0.5, 0.7], [0.6, 0.8], 0.5),
          RANDOM_INIT: _model([0.9, 0.9], [0.99, 0.98], -0.125)}


def test_silhouettes_per_model_and_none_where_not_measured():
    assert tokens.silhouettes({"models": MODELS}) == {"simmim": 0.25, "kamim": 0.5, RANDOM_INIT: -0.125}
    assert tokens.silhouettes({"models": {"swin": {}}}) == {"swin": None}


def test_the_similarity_tables_are_written_only_when_every_model_has_them(tmp_path):
    result = _result(tmp_path, MODELS)
    post = tokens.post_attention_table(result)
    assert (tmp_path / "tables" / "tokens_token_cosine_similarity_post_attention.md").read_text() == post
    assert post.startswith("### Token cosine similarity, post-attention (vit_micro12)")
    assert "| 2 | 0.400 | 0.800 | 0.980 |" in post
    assert "| 1 | 0.500 | 0.500 | 0.900 |" in tokens.pre_attention_table(result)
    swin = {**MODELS, "swin": {"tsne_image_silhouette": 0.1}}
    assert not tokens.measured_by_every_model({"models": swin}, tokens.similarity_metric("pre"))
    assert tokens.measured_by_every_model({"models": MODELS}, tokens.similarity_metric("pre"))
    other = tmp_path / "swin"
    note = tokens.pre_attention_table(_result(other, swin))
    assert "not measured for every model" in note and not (other / "tables").exists()


def test_the_conclusions_are_generated_from_the_numbers(tmp_path):
    lines = tokens.conclusions(_result(tmp_path, MODELS)).splitlines()
    assert lines[1] == ("- KAMIM: mean token cosine similarity after attention 0.600–0.800 (last block 0.800); "
                        "silhouette of its layer-4 tokens grouped by image +0.500 (1 = one tight cluster per image, "
                        "0 = images intermingled).")
    # post-attention: KAMIM above SimMIM at both blocks, mean paired difference +0.350.
    assert any(line.startswith("- KAMIM's post-attention token similarity exceeds SimMIM's in 2 of 2 blocks; paired "
                               "difference over blocks +0.350") for line in lines)
