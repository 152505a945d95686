"""What every analysis notebook does first: resolve its checkpoints, load the models, read the images at each
model's input size. One function per step, so a notebook cell is one call."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Dict

from kamim_paper.experiments.analysis_inputs import AnalysisImages, images_for_models, load_analysis_images
from kamim_paper.experiments.analysis_models import analysis_models, resolve_checkpoints


@dataclass
class AnalysisSetup:
    """A notebook's resolved inputs.

    Attributes:
        model: registry name of the architecture.
        checkpoints: label -> path (the random-init baseline is not listed; ``analysis_models`` adds it).
        sources: label -> "parameter" or "pretraining record".
    """

    model: str
    checkpoints: Dict[str, str]
    sources: Dict[str, str]


def resolve_setup(out_dir, params) -> AnalysisSetup:
    """``resolve_checkpoints`` for a notebook's parameters (``AnalysisParams``)."""
    return AnalysisSetup(*resolve_checkpoints(out_dir, params.model, params.checkpoints))


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
    from kamim_paper.original.moco_v3 import is_moco_v3_model

    kept = {label: model for label, model in models.items() if not is_moco_v3_model(model)}
    return kept, [label for label in models if label not in kept]
