"""Section 7 (notebook ``07_attention``): mean attention distance, NMI and attention maps of SimMIM, KAMIM and an
untrained ViT, and whether the original's code would have loaded the checkpoints at all (SPEC §3).

The notebook calls, in order: :func:`parameters`, :func:`inputs`, :func:`loader_report`, :func:`compute`,
:func:`curves_figure`, :func:`distance_table`, :func:`nmi_table`, :func:`maps_figure`, :func:`conclusions`.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from kamim_lib.analysis import collect
from kamim_paper.experiments.analysis_session import (AnalysisSetup, load_models_and_images, section_files,
                                                      summary_header)
from kamim_paper.experiments.token_analysis import select_images
from kamim_paper.original.loader_report import checkpoint_loader_reports
from kamim_paper.results import conclusions as sentences
from kamim_paper.results import summaries
from kamim_paper.results.figures import analysis as figures
from kamim_paper.results.tables import analysis as tables
from kamim_paper.results.labels import model_labels as labels
from kamim_paper.sections.analysis_views import inputs, read_result
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import AttentionParams as Params

NAME = "attention"
LOADER_REPORT_NAME = "original_loader.json"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def loader_report(setup: AnalysisSetup) -> Markdown:
    """Replay the original's own (``strict=False``) load of every checkpoint, write the records to
    ``<out_dir>/attention/original_loader.json`` and return the generated sentences."""
    records, lines = checkpoint_loader_reports(setup.checkpoints, setup.model)
    summaries.write_summary(section_files(setup.out_dir, NAME).folder / LOADER_REPORT_NAME, records)
    return bullet_lines(lines)


def query_cell(query: list[int] | None) -> tuple[int, int] | None:
    """The query token of the maps as (row, col); None = the centre of each model's grid."""
    return tuple(query) if query is not None else None


def map_image_positions(params: Params) -> list[int]:
    """Positions (0-based) among the analysed images of those whose maps are drawn: ``map_images``, else the
    first ``num_map_images``."""
    return list(params.map_images) if params.map_images is not None else list(range(params.num_map_images))


def compute(params: Params, setup: AnalysisSetup | None = None) -> SectionResult:
    """Measure the attention distance and NMI per block of every model (checkpoints loaded strictly, random init
    added) and the last block's attention maps, and write the summary and arrays.

    Skipped while ``<out_dir>/attention/summary.json`` holds the same result-relevant parameters, unless
    ``params.force``. ``setup``: :func:`inputs` output (resolved here when not given).
    """
    setup = setup or inputs(params)
    files = section_files(setup.out_dir, NAME)
    if summaries.should_compute(files.summary, params, params.force):
        models, images = load_models_and_images(setup, params)
        statistics = {label: collect.attention_statistics(m, images[label].images, batch_size=params.batch_size)
                      for label, m in models.items()}
        query = query_cell(params.query)
        positions = map_image_positions(params)
        maps = {label: collect.attention_maps(m, select_images(images[label].images, positions, "map_images"),
                                              head=params.head, query=query, batch_size=params.batch_size)
                for label, m in models.items()}
        summary = summary_header(NAME, params, setup, images)
        summary.update(summaries.attention_entries(statistics))
        summary.update(summaries.attention_map_entries(maps))
        map_images = select_images(next(iter(images.values())).images, positions, "map_images")
        summaries.write_arrays(files.arrays, summaries.attention_map_arrays(maps, map_images))
        summaries.write_summary(files.summary, summary)
    return read_result(NAME, params, setup)


def curves_figure(result: SectionResult) -> Figure:
    """Mean attention distance (px, and as a share of uniform attention) and NMI per block, the paper's dashed."""
    return result.save_figure(figures.attention_curves_figure(result.summary), "attention_distance_nmi")


def _per_layer_table(result: SectionResult, metric: str, title: str, digits: int) -> Markdown:
    return result.write_table(f"attention_{metric}",
                              tables.per_layer_table(result.summary, metric, title=title, digits=digits))


def distance_table(result: SectionResult) -> Markdown:
    """Mean attention distance (px) per block, each model beside the paper's curves."""
    return _per_layer_table(result, "attention_distance_px", "Mean attention distance (px) per block", 1)


def nmi_table(result: SectionResult) -> Markdown:
    """Attention NMI per block, each model beside the paper's curves."""
    return _per_layer_table(result, "nmi", "Attention NMI per block", 4)


def maps_figure(result: SectionResult) -> Figure:
    """The last block's attention maps: one head, one query token, every model on one colour scale."""
    meta = result["attention_maps"]
    figure = figures.attention_maps_figure(result.arrays["images"],
                                           {label: result.arrays[f"maps/{label}"] for label in labels(result)},
                                           meta.get("queries", tuple(meta["query"])),
                                           title=f"block {meta['block']}, head {meta['head']}")
    return result.save_figure(figure, "attention_maps")


def conclusions(result: SectionResult) -> Markdown:
    """The generated sentences: every model's distance and NMI, the paired comparisons, the paper's curves."""
    return bullet_lines(sentences.attention_conclusions(result.summary))


__all__ = ["Params", "parameters", "inputs", "loader_report", "compute", "curves_figure", "distance_table",
           "nmi_table", "maps_figure", "conclusions", "query_cell", "map_image_positions"]
