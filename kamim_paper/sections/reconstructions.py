"""Section 10 (notebook ``10_reconstructions``): reference / masked / reconstructions of SimMIM, KAMIM and an
untrained model, and PSNR/SSIM under the original's convention and ours, against the image-blind floor.

The notebook calls, in order: :func:`parameters`, :func:`inputs`, :func:`compute`, :func:`reconstructions_figure`,
:func:`scores_table`, :func:`conclusions`.
"""
from __future__ import annotations

import dataclasses

import torch
from matplotlib.figure import Figure

from kamim_lib.analysis import collect
from kamim_lib.analysis.pixels import masked_input, unnormalize
from kamim_lib.data import build_dataset, build_eval_transform
from kamim_paper.evidence.image_floor import IMAGE_BLIND_FLOOR, image_blind_reconstruction, training_mean_image
from kamim_paper.experiments.analysis_inputs import AnalysisImages, analysis_masks
from kamim_paper.experiments.analysis_models import analysis_models
from kamim_paper.experiments.analysis_session import (AnalysisSetup, load_models_and_images, reconstructing_models,
                                                      section_files, summary_header)
from kamim_paper.experiments.reconstruction_scores import batch_mask_seed, score_data_set
from kamim_paper.results import conclusions as sentences
from kamim_paper.results import summaries
from kamim_paper.results.figures import analysis as figures
from kamim_paper.results.labels import model_labels as labels
from kamim_paper.results.tables import analysis as tables
from kamim_paper.results.tables.analysis import in_paper_setting
from kamim_paper.sections.analysis_views import inputs, read_result
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import ReconstructionParams as Params

NAME = "reconstructions"


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def left_out_sentence(left_out: list[str]) -> str | None:
    """The line saying which models were left out for having no reconstruction decoder (MoCo v3); None if none."""
    return f"left out (no reconstruction decoder): {', '.join(left_out)}" if left_out else None


def compute(params: Params, setup: AnalysisSetup | None = None, *, log=print, progress_every: int = 50
            ) -> SectionResult:
    """Reconstruct the same masked images with every model that has a decoder (checkpoints loaded strictly, random
    init added) and with the image-blind floor, score them under both conventions, and write the summary and the
    figure's arrays (the left-out models are named in one line).

    Skipped while ``<out_dir>/reconstructions/summary.json`` holds the same result-relevant parameters, unless
    ``params.force``. ``setup``: :func:`inputs` output (resolved here when not given). With
    ``reconstruction_data="imagenet_val"`` every ImageNet-1K validation image is scored in batches (a progress line
    every ``progress_every`` batches) and an interrupted run resumes where it stopped.
    """
    setup = setup or inputs(params)
    files = section_files(setup.out_dir, NAME)
    if params.reconstruction_data == "imagenet_val":
        if summaries.should_compute(files.summary, params, params.force):
            _compute_imagenet_val(params, setup, files, log, progress_every)
        return read_result(NAME, params, setup)
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


def _compute_imagenet_val(params: Params, setup: AnalysisSetup, files, log, progress_every: int) -> None:
    """``reconstruction_data="imagenet_val"``: every ImageNet-1K validation image through the squash, scored in
    batches with progress, resumable (``reconstruction_scores``); the figure shows the first images."""
    if params.data_root is None:
        raise ValueError("reconstruction_data='imagenet_val' reads the ImageNet-1K validation split under data_root; "
                         "set data_root.")
    models = analysis_models(setup.model, setup.checkpoints, params.seed, device=params.device)
    models, left_out = reconstructing_models(models)
    if left_out:
        log(left_out_sentence(left_out))
    reference_model = next(iter(models.values()))
    size = reference_model.img_size
    if any(m.img_size != size for m in models.values()):
        raise ValueError("reconstruction_data='imagenet_val' needs every reconstructing model at one input size.")
    data = build_dataset("imagenet", root=params.data_root, split="val", transform=build_eval_transform(size))

    def masks_for(index: int, count: int) -> torch.Tensor:
        return analysis_masks(count, img_size=size, model_patch_size=reference_model.patch_size,
                              mask_patch_size=params.mask_patch_size, mask_ratio=params.mask_ratio,
                              seed=batch_mask_seed(params.seed, index))

    mean_image = training_mean_image("imagenet", img_size=size, root=params.data_root,
                                     num_images=params.floor_images, seed=params.seed, analysis_transform="eval")
    result_parameters = {key: value for key, value in dataclasses.asdict(params).items()
                         if key not in summaries.NON_RESULT_PARAMETERS}
    fingerprint = {"parameters": result_parameters, "checkpoints": dict(setup.checkpoints),
                   "model": setup.model, "num_images": len(data)}
    records, floor, figure = score_data_set(
        models, data, mean_image=mean_image, masks_for=masks_for, batch_size=params.batch_size,
        state_path=files.folder / "imagenet_val_state.json", fingerprint=fingerprint,
        num_figure_images=params.num_figure_images, progress_every=progress_every, restart=params.force, log=log)
    shown = figure["reference"]
    header_images = AnalysisImages(shown, torch.zeros(len(shown), dtype=torch.int64),
                                   torch.arange(len(shown), dtype=torch.int64))
    summary = summary_header(NAME, params, setup, {"first": header_images})
    summary["images"] = {"dataset": "imagenet", "split": "val", "num_images": len(data),
                         "note": f"every image of the ImageNet-1K validation split ({len(data)}), squashed to "
                                 f"{size} x {size} without antialiasing, scored in batches of {params.batch_size} "
                                 "(the original's compare_reconstructions.ipynb)"}
    entries = summaries.reconstruction_entries({}, None)
    entries["models"] = records
    entries["floor"] = floor
    summary.update(entries)
    reference = unnormalize(shown)
    labels_shown = list(records) + [IMAGE_BLIND_FLOOR]
    predictions = {label: figure[f"prediction/{label}"] for label in records}
    predictions[IMAGE_BLIND_FLOOR] = figure["prediction/__floor__"]
    summaries.write_arrays(files.arrays, {
        "reference": summaries.to_uint8_pixels(reference),
        "masked": summaries.to_uint8_pixels(masked_input(reference, figure["masks"])),
        **{f"prediction/{label}": summaries.to_uint8_pixels(unnormalize(predictions[label]))
           for label in labels_shown}})
    summaries.write_summary(files.summary, summary)


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
