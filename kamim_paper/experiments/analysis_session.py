"""What every analysis section (07–10) does around its measurement: resolve its checkpoints, load the models, read
the images at each model's input size, name its output files and start its summary. One function per step, shared
by the four ``kamim_paper.sections`` modules (attention, fourier, tokens, reconstructions)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Dict

from kamim_lib.provenance import provenance
from kamim_paper.experiments.analysis_inputs import AnalysisImages, images_for_models, load_analysis_images
from kamim_paper.experiments.analysis_models import analysis_models, resolve_checkpoints
from kamim_paper.original.moco_v3 import is_moco_v3_model
from kamim_paper.results import summaries


@dataclass
class AnalysisSetup:
    """A notebook's resolved inputs.

    Attributes:
        model: registry name of the architecture.
        checkpoints: label -> path (the random-init baseline is not listed; ``analysis_models`` adds it).
        sources: label -> "parameter" or "pretraining record".
        out_dir: the profile's output folder the checkpoints were resolved in (where the section writes).
    """

    model: str
    checkpoints: Dict[str, str]
    sources: Dict[str, str]
    out_dir: Path | None = None


def resolve_setup(out_dir, params) -> AnalysisSetup:
    """``resolve_checkpoints`` for a notebook's parameters (``AnalysisParams``)."""
    return AnalysisSetup(*resolve_checkpoints(out_dir, params.model, params.checkpoints), out_dir=Path(out_dir))


@dataclass(frozen=True)
class SectionFiles:
    """Where one analysis section keeps its numbers: ``<out_dir>/<name>/summary.json`` and ``arrays.npz``."""

    folder: Path
    summary: Path
    arrays: Path


def section_files(out_dir, name: str) -> SectionFiles:
    """The section's folder (created) and its summary and arrays files."""
    folder = summaries.section_dir(out_dir, name)
    return SectionFiles(folder, folder / summaries.SUMMARY_NAME, folder / summaries.ARRAYS_NAME)


def summary_header(name: str, params, setup: AnalysisSetup, inputs: Dict[str, AnalysisImages]) -> dict:
    """``summaries.summary_header`` of an analysis section: its parameters, model, checkpoints and their sources,
    the analysed images (those of the first model), data set, split and provenance."""
    return summaries.summary_header(name, parameters=params, model=setup.model, checkpoints=setup.checkpoints,
                                    sources=setup.sources, images=next(iter(inputs.values())),
                                    dataset=params.dataset, split=params.split, provenance=provenance(params.profile))


def load_models_and_images(setup: AnalysisSetup, params, *, num_images: int | None = None
                           ) -> tuple[dict, Dict[str, AnalysisImages]]:
    """The models (strictly loaded, random init added, eval mode on ``params.device``) and, per model label, the
    analysed images at that model's input size (the same images for every model of one size).

    Args:
        setup: ``resolve_setup`` output.
        params: the notebook's ``AnalysisParams``.
        num_images: images to read (default ``params.num_images``).
    """
    models = analysis_models(setup.model, setup.checkpoints, params.seed, device=params.device)
    load = partial(_load_images, params, num_images or params.num_images)
    return models, images_for_models(models, load)


def _load_images(params, num_images: int, img_size: int) -> AnalysisImages:
    try:
        images = load_analysis_images(params.dataset, root=params.images_root, split=params.split,
                                      num_images=num_images, img_size=img_size, seed=params.seed,
                                      analysis_transform=params.analysis_transform)
    except (ValueError, FileNotFoundError) as error:
        if params.analysis_data_root is not None or params.data_root is None:
            raise
        # The analysis fell back to the training data root, which may hold another data set.
        raise type(error)(f"{error}\nThe analysis read dataset={params.dataset!r} from data_root={params.data_root!r}; "
                          "if its images are elsewhere (the paper profile: Imagenette-160), pass "
                          "--set analysis_data_root=/path/to/imagenette2-160.") from error
    if images.note:
        print(images.note)  # the notebook's output says how many images the analysis saw (also in the summary)
    return images


def reconstructing_models(models: dict) -> tuple[dict, list[str]]:
    """The models that reconstruct (MoCo v3 has no SimMIM decoder), and the labels left out."""
    kept = {label: model for label, model in models.items() if not is_moco_v3_model(model)}
    return kept, [label for label in models if label not in kept]
