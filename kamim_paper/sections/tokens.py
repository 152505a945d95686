"""Section 9 (notebook ``09_tokens``): token t-SNE, the joint pre/post-attention PCA of one block and token
homogeneity per block of SimMIM, KAMIM and an untrained ViT (Park et al. 2023: contrastive attention is
homogeneous).

The notebook calls, in order: :func:`parameters`, :func:`inputs`, :func:`compute`, :func:`tsne_figure`,
:func:`pca_figure`, :func:`homogeneity_figure`, :func:`pre_attention_table`, :func:`post_attention_table`,
:func:`conclusions`.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from kamim_paper.experiments.analysis_session import (AnalysisSetup, load_models_and_images, section_files,
                                                      summary_header)
from kamim_paper.experiments.token_analysis import analyse_token_models, token_arrays
from kamim_paper.results import conclusions as sentences
from kamim_paper.results import summaries
from kamim_paper.results.figures import analysis as figures
from kamim_paper.results.tables import analysis as tables
from kamim_paper.results.labels import model_labels as labels
from kamim_paper.sections.analysis_views import inputs, read_result
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import TokensParams as Params

NAME = "tokens"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def compute(params: Params, setup: AnalysisSetup | None = None) -> SectionResult:
    """t-SNE of one layer's tokens, the joint PCA of one block's pre/post-attention tokens and the per-block token
    homogeneity of every model (checkpoints loaded strictly, random init added); writes the summary and arrays.

    Skipped while ``<out_dir>/tokens/summary.json`` holds the same result-relevant parameters, unless
    ``params.force``. ``setup``: :func:`inputs` output (resolved here when not given).
    """
    setup = setup or inputs(params)
    files = section_files(setup.out_dir, NAME)
    if summaries.should_compute(files.summary, params, params.force):
        models, images = load_models_and_images(setup, params)
        analyses = analyse_token_models(models, images, tsne_layer=params.tsne_layer, pca_block=params.pca_block,
                                        perplexity=params.perplexity, seed=params.seed, batch_size=params.batch_size,
                                        tsne_init=params.tsne_init, pca_images=params.pca_images)
        summary = summary_header(NAME, params, setup, images)
        summary.update(summaries.token_entries(analyses))
        summaries.write_arrays(files.arrays, token_arrays(analyses))
        summaries.write_summary(files.summary, summary)
    return read_result(NAME, params, setup)


def silhouettes(summary: dict) -> dict[str, float | None]:
    """label -> silhouette of its t-SNE layer's tokens grouped by image (None where not measured)."""
    return {label: entries.get("tsne_image_silhouette") for label, entries in summary["models"].items()}


def tsne_figure(result: SectionResult) -> Figure:
    """Every patch token of the t-SNE layer, one colour per image, one panel per model (silhouette in the title)."""
    figure = figures.tsne_figure(result.arrays, labels(result), result["tokens"]["tsne_layer"],
                                 silhouettes(result.summary))
    return result.save_figure(figure, "tokens_tsne")


def pca_figure(result: SectionResult) -> Figure:
    """One block's LN1 output and attention output on their joint first two principal axes, per model."""
    figure = figures.pca_figure(result.arrays, labels(result), result["tokens"]["pca_block"])
    return result.save_figure(figure, "tokens_pre_post_attention_pca")


def homogeneity_figure(result: SectionResult) -> Figure:
    """Mean cosine similarity between an image's tokens per block, before (dashed) and after (solid) attention."""
    return result.save_figure(figures.token_similarity_figure(result.summary), "tokens_homogeneity")


def similarity_metric(kind: str) -> str:
    """The summary's name of the token similarity ``kind`` ("pre" or "post") attention."""
    return f"token_cosine_similarity_{kind}_attention"


def measured_by_every_model(summary: dict, metric: str) -> bool:
    """Whether every model has ``metric`` (token homogeneity is measured for ViT models only)."""
    return all(metric in entries for entries in summary["models"].values())


def _similarity_table(result: SectionResult, kind: str) -> Markdown:
    metric = similarity_metric(kind)
    if not measured_by_every_model(result.summary, metric):
        return Markdown(f"_Token cosine similarity, {kind}-attention: not measured for every model (ViT only); no "
                        "table._")
    return result.write_table(f"tokens_{metric}", tables.per_layer_table(
        result.summary, metric, title=f"Token cosine similarity, {kind}-attention", digits=3))


def pre_attention_table(result: SectionResult) -> Markdown:
    """Token cosine similarity per block before attention (the block's LN1 output)."""
    return _similarity_table(result, "pre")


def post_attention_table(result: SectionResult) -> Markdown:
    """Token cosine similarity per block after attention (what attention adds to the residual stream)."""
    return _similarity_table(result, "post")


def conclusions(result: SectionResult) -> Markdown:
    """The generated sentences: every model's token homogeneity and t-SNE silhouette, the paired comparisons."""
    return bullet_lines(sentences.token_conclusions(result.summary))


__all__ = ["Params", "parameters", "inputs", "compute", "tsne_figure", "pca_figure", "homogeneity_figure",
           "pre_attention_table", "post_attention_table", "conclusions", "silhouettes", "similarity_metric",
           "measured_by_every_model"]
