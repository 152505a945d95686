"""Section 10 (notebook ``10_reconstructions``): reference / masked / reconstructions of SimMIM, KAMIM and an
untrained model, and PSNR/SSIM under the original's convention and ours, against the image-blind floor.

The notebook calls, in order: :func:`parameters`, :func:`inputs`, :func:`compute`, :func:`reconstructions_figure`,
:func:`scores_table`, :func:`conclusions`.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from kamim_lib.analysis import collect
from kamim_lib.analysis.pixels import masked_input, unnormalize
from kamim_paper.evidence.image_floor import IMAGE_BLIND_FLOOR, image_blind_reconstruction, training_mean_image
from kamim_paper.experiments.analysis_inputs import analysis_masks
from kamim_paper.experiments.analysis_session import (AnalysisSetup, load_models_and_images, reconstructing_models,
                                                      section_files, summary_header)
from kamim_paper.results import conclusions as sentences
from kamim_paper.results import summaries
from kamim_paper.results.figures import analysis as figures
from kamim_paper.results.tables import analysis as tables
from kamim_paper.results.tables.analysis import in_paper_setting
from kamim_paper.sections.analysis_views import inputs, labels, read_result
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import ReconstructionParams as Params

NAME = "reconstructions"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def left_out_sentence(left_out: list[str]) -> str | None:
    """The line saying which models were left out for having no reconstruction decoder (MoCo v3); None if none."""
    return f"left out (no reconstruction decoder): {', '.join(left_out)}" if left_out else None


def compute(params: Params, setup: AnalysisSetup | None = None, *, log=print) -> SectionResult:
    """Reconstruct the same masked images with every model that has a decoder (checkpoints loaded strictly, random
    init added) and with the image-blind floor, score them under both conventions, and write the summary and the
    figure's arrays (the left-out models are named in one line).

    Skipped while ``<out_dir>/reconstructions/summary.json`` holds the same result-relevant parameters, unless
    ``params.force``. ``setup``: :func:`inputs` output (resolved here when not given).
    """
    setup = setup or inputs(params)
    files = section_files(setup.out_dir, NAME)
    if summaries.should_compute(files.summary, params, params.force):
        models, images_by_model = load_models_and_images(setup, params)
        models, left_out = reconstructing_models(models)  # MoCo v3 has no SimMIM decoder
        if left_out:
            log(left_out_sentence(left_out))
        reference_model = next(iter(models.values()))
        images = images_by_model[next(iter(models))].images
        masks = analysis_masks(len(images), img_size=reference_model.img_size,
                               model_patch_size=reference_model.patch_size, mask_patch_size=params.mask_patch_size,
                               mask_ratio=params.mask_ratio, seed=params.seed)
        results = {label: collect.reconstruct(m, images, masks, batch_size=params.batch_size)
                   for label, m in models.items()}
        mean_image = training_mean_image(params.dataset, img_size=reference_model.img_size, root=params.images_root,
                                         num_images=params.floor_images, seed=params.seed,
                                         analysis_transform=params.analysis_transform)
        floor = image_blind_reconstruction(mean_image, images, masks)
        summary = summary_header(NAME, params, setup, images_by_model)
        summary.update(summaries.reconstruction_entries(results, floor))
        shown = slice(0, params.num_figure_images)
        reference = unnormalize(images[shown])
        summaries.write_arrays(files.arrays, {
            "reference": summaries.to_uint8_pixels(reference),
            "masked": summaries.to_uint8_pixels(masked_input(reference, masks[shown])),
            **{f"prediction/{label}": summaries.to_uint8_pixels(result.prediction[shown])
               for label, result in {**results, IMAGE_BLIND_FLOOR: floor}.items()}})
        summaries.write_summary(files.summary, summary)
    return read_result(NAME, params, setup)


def reconstructions_figure(result: SectionResult) -> Figure:
    """Reference, masked input, each model's reconstruction and the image-blind floor's, one row per image."""
    figure = figures.reconstructions_figure(result.arrays, labels(result) + [IMAGE_BLIND_FLOOR],
                                            max_images=result.params.num_figure_images)
    return result.save_figure(figure, "reconstructions")


def scores_table(result: SectionResult) -> Markdown:
    """PSNR/SSIM per model under both conventions, the floor's, and the paper's ranges in the paper's setting."""
    return result.write_table("reconstructions", tables.reconstruction_table(result.summary))


def conclusions(result: SectionResult) -> Markdown:
    """The generated sentences: every model against the image-blind floor, and the paper's numbers (compared only
    in the paper's setting, :func:`in_paper_setting`)."""
    return bullet_lines(sentences.reconstruction_conclusions(result.summary))


__all__ = ["Params", "parameters", "inputs", "compute", "reconstructions_figure", "scores_table", "conclusions",
           "left_out_sentence", "in_paper_setting"]
