"""Section 1 (notebook ``01_method``): the method on bundled photos, keypoints → density → weights → weighted
loss.

The pipeline runs on real photos bundled with scikit-image: FAST (or SIFT/ORB) keypoints drawn as the original
does, the keypoint density Ω per ``w_ps × w_ps`` patch, the weights W = exp((Ω − min Ω)/T), SimMIM's mask, and the
loss weight M·ω. A trivial reconstruction (each image's mean colour) is then scored with SimMIM's loss and KAMIM's
under both normalisations, to show what the weighting does to the loss scale.

The notebook calls, in order: :func:`parameters`, :func:`compute`, :func:`pipeline_figure`, :func:`losses`.
"""
from __future__ import annotations

import json

from matplotlib.figure import Figure

from kamim_lib.data import normalize_on_device
from kamim_lib.losses import masked_l1
from kamim_lib.sample_photos import sample_photo_batch
from kamim_paper.results.artifacts import relative_to_repo, section_output_dir
from kamim_paper.results.figures.method import compute_method_panels, method_figure
from kamim_paper.results.figures.plots import save_figure
from kamim_paper.sections.outputs import SectionResult, parameters_of
from kamim_paper.sections.params import MethodParams as Params

NAME = "method"
FIGURE_DPI = 110  # this figure's resolution since notebook 01 first wrote it


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def compute(params: Params) -> SectionResult:
    """Run the weighting pipeline on the photos, score a mean-colour reconstruction with SimMIM's and KAMIM's loss
    and write ``<output_dir>/method/summary.json`` (per-image numbers and the three losses).

    Cheap (a few photos), so it always runs. ``arrays`` holds the pipeline's intermediates in memory
    (``{"panels": MethodPanels}``) for :func:`pipeline_figure`; nothing is written besides the summary.
    """
    out_dir = section_output_dir(params.output_dir, params.profile)
    images = sample_photo_batch(tuple(params.photos), size=params.img_size)
    panels = compute_method_panels(images, detector=params.detector, mode=params.mode, backend=params.backend,
                                   patch_size=params.weight_patch_size, temperature=params.temperature,
                                   mask_patch_size=params.mask_patch_size, model_patch_size=params.model_patch_size,
                                   mask_ratio=params.mask_ratio, seed=params.seed)
    target = normalize_on_device(images)
    prediction = target.mean(dim=(2, 3), keepdim=True).expand_as(target)
    losses = {
        "simmim": masked_l1(prediction, target, panels.masks, params.model_patch_size).item(),
        "kamim (÷ 3ΣM)": masked_l1(prediction, target, panels.masks, params.model_patch_size,
                                   weight=panels.weights).item(),
        "kamim (÷ 3ΣM·ω)": masked_l1(prediction, target, panels.masks, params.model_patch_size,
                                     weight=panels.weights, normalize="weight").item(),
    }
    summary = relative_to_repo({"parameters": params.__dict__,
                                "per_image": dict(zip(params.photos, panels.summary())),
                                "mean_colour_prediction_loss": losses})
    (out_dir / NAME).mkdir(parents=True, exist_ok=True)
    (out_dir / NAME / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return SectionResult(NAME, params, out_dir, summary, {"panels": panels})


def pipeline_figure(result: SectionResult) -> Figure:
    """Image, keypoint map, density Ω, weight W, SimMIM mask and loss weight M·ω for every photo."""
    params = result.params
    figure = method_figure(result.arrays["panels"], title=f"{params.detector} ({params.mode}), "
                                                          f"w_ps={params.weight_patch_size}, T={params.temperature}")
    save_figure(figure, result.out_dir / "figures" / "method_keypoint_weights.png", dpi=FIGURE_DPI)
    return figure


def losses(result: SectionResult) -> dict[str, float]:
    """The mean-colour reconstruction's loss under SimMIM (ω ≡ 1) and KAMIM (÷ 3ΣM and ÷ 3ΣM·ω)."""
    return result["mean_colour_prediction_loss"]


__all__ = ["Params", "parameters", "compute", "pipeline_figure", "losses"]
