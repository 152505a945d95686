"""Section 8 (notebook ``08_fourier``): relative log amplitude of the Fourier-transformed features per layer of
SimMIM, KAMIM and an untrained ViT, beside the paper's ViT-B curves (Park et al. 2023: contrastive = low-pass).

The notebook calls, in order: :func:`parameters`, :func:`inputs`, :func:`compute`, :func:`amplitude_figure`,
:func:`amplitude_table`, :func:`conclusions`.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from kamim_lib.analysis import collect
from kamim_paper.experiments.analysis_session import (AnalysisSetup, load_models_and_images, section_files,
                                                      summary_header)
from kamim_paper.results import conclusions as sentences
from kamim_paper.results import summaries
from kamim_paper.results.figures import analysis as figures
from kamim_paper.results.tables import analysis as tables
from kamim_paper.sections.analysis_views import inputs, read_result
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import FourierParams as Params

NAME = "fourier"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def compute(params: Params, setup: AnalysisSetup | None = None) -> SectionResult:
    """Measure every model's Fourier statistics per hidden state (checkpoints loaded strictly, random init added)
    and write the summary.

    Skipped while ``<out_dir>/fourier/summary.json`` holds the same result-relevant parameters, unless
    ``params.force``. ``setup``: :func:`inputs` output (resolved here when not given).
    """
    setup = setup or inputs(params)
    files = section_files(setup.out_dir, NAME)
    if summaries.should_compute(files.summary, params, params.force):
        models, images = load_models_and_images(setup, params)
        statistics = {label: collect.fourier_statistics(m, images[label].images, batch_size=params.batch_size)
                      for label, m in models.items()}
        summary = summary_header(NAME, params, setup, images)
        summary.update(summaries.fourier_entries(statistics))
        summaries.write_summary(files.summary, summary)
    return read_result(NAME, params, setup, arrays=False)


def amplitude_figure(result: SectionResult) -> Figure:
    """ΔLog amplitude per layer (the paper's dashed) and every model's diagonal profiles."""
    return result.save_figure(figures.fourier_figure(result.summary), "fourier_delta_log_amplitude")


def amplitude_table(result: SectionResult) -> Markdown:
    """ΔLog amplitude per layer, each model beside the paper's curves."""
    return result.write_table("fourier_delta_log_amplitude", tables.per_layer_table(
        result.summary, "delta_log_amplitude", title="Fourier ΔLog amplitude per layer", digits=2))


def conclusions(result: SectionResult) -> Markdown:
    """The generated sentences: every model's ΔLog amplitude, the paired comparisons, the paper's curves."""
    return bullet_lines(sentences.fourier_conclusions(result.summary))


__all__ = ["Params", "parameters", "inputs", "compute", "amplitude_figure", "amplitude_table", "conclusions"]
