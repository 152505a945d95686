"""Section 2 (notebook ``02_pretrain``): SimMIM vs KAMIM pretraining on paired seeds.

Every method is pretrained once per seed with the training engine; the headline number is the held-out masked L1
beside an image-blind predictor and a random-init model, with the paired difference KAMIM − SimMIM and its 95 %
interval. The section also draws the loss curves and reconstructions of the first seed's checkpoints, hands those
checkpoints to the probing and analysis sections (``<output_dir>/pretrain/checkpoints.json``), and shows what the
weighting does (error per keypoint-density decile, weight concentration).

The notebook calls, in order: :func:`parameters`, :func:`plan`, :func:`compute`, :func:`evidence_table`,
:func:`evidence_figure`, :func:`conclusions`, :func:`hand_off_checkpoints`, :func:`loss_curves_figure`,
:func:`reconstructions_figure`, :func:`losses_table`, :func:`deciles_figure`, :func:`weighting_table`,
:func:`weighting_conclusion`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping

import torch
from matplotlib.figure import Figure

from kamim_lib.analysis.collect import reconstruct
from kamim_lib.analysis.pixels import masked_input, unnormalize
from kamim_lib.models import load_pretrained
from kamim_lib.provenance import provenance
from kamim_paper.evidence.views import PRETRAIN_BASELINES, pretrain_evidence
from kamim_paper.evidence.weighting import bin_count, bin_name
from kamim_paper.experiments import runs as experiments
from kamim_paper.experiments.analysis_inputs import analysis_masks, load_analysis_images
from kamim_paper.experiments.analysis_models import resolve_analysis_device
from kamim_paper.experiments.training import training_setup
from kamim_paper.results import summaries
from kamim_paper.results.artifacts import from_repo, record_pretrained_checkpoints, relative_to_repo, section_output_dir
from kamim_paper.results.figures import analysis as analysis_figures
from kamim_paper.results.figures import experiments as experiment_plots
from kamim_paper.results.sentences import difference_verdict
from kamim_paper.results.summaries import to_uint8_pixels
from kamim_paper.results.tables import experiments as experiment_tables
from kamim_paper.results.tables.markdown import comparison_table, markdown_table, provenance_line
from kamim_paper.sections.outputs import (NO_EVIDENCE, Markdown, SectionResult, bullet_lines, has_paired_evidence,
                                          parameters_of)
from kamim_paper.sections.params import PretrainParams as Params

NAME = "pretrain"
# Held-out masked L1 / image-blind L1 at or below this: the model clearly uses the visible pixels (the smoke
# profile's target, README); between it and 1: it beats the image-blind predictor, but by less than 20 %.
CLEARLY_USES_PIXELS = 0.8


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


def _setup(params: Params):
    out_dir = section_output_dir(params.output_dir, params.profile)
    setup = training_setup(params.train_config, params.overrides, out_dir, params.device)
    methods = experiments.method_variants(params.methods)
    variants = experiments.seeded_variants(methods, params.seeds)
    reference = setup.pretrain_config(variants[0].overrides)
    return out_dir, setup, variants, reference


def plan(params: Params) -> dict:
    """What will be trained: configuration file, model, data, geometry, epochs, seeds and the number of runs."""
    _, setup, variants, reference = _setup(params)
    return {"train_config": str(relative_to_repo(str(setup.train_config))), "model": reference.model,
            "dataset": reference.dataset, "img_size": reference.img_size,
            "token_grid": reference.img_size // 8 if reference.model == "vit_micro" else None,
            "mask_patch_size": reference.mask_patch_size, "mask_ratio": reference.mask_ratio,
            "epochs": reference.epochs, "loss_normalize": reference.loss_normalize, "seeds": params.seeds,
            "runs": len(variants), "paired_evidence": has_paired_evidence(params)}


def _first_seed(results: list[dict], seeds: list[int]) -> list[dict]:
    return [result for result in results if result["fields"]["seed"] == seeds[0]]


def compute(params: Params) -> SectionResult:
    """Pretrain (or resume, or reuse) every method x seed, reconstruct, measure the evidence and write the summary.

    Skipped while ``<output_dir>/pretrain/summary.json`` is current (same result-relevant parameters, same runs),
    unless ``params.force``. Training itself is never repeated: a finished run is returned as it is, an interrupted
    one resumes.
    """
    out_dir, setup, variants, reference = _setup(params)
    section = summaries.section_dir(out_dir, NAME)
    summary_path, arrays_path = section / summaries.SUMMARY_NAME, section / summaries.ARRAYS_NAME
    if experiments.summary_is_stale(summary_path, params, params.force, experiments.planned_runs(setup, variants)):
        results = experiments.run_variants(setup, variants)
        first_seed = _first_seed(results, params.seeds)
        checkpoints = {result["label"]: result["pretrain"]["checkpoint"] for result in first_seed}
        arrays, reconstruction = reconstruction_arrays(checkpoints, reference,
                                                       num_images=params.num_reconstruction_images,
                                                       seed=params.seed, device=params.device)
        evidence = pretrain_evidence(results, params.seeds, reference) if has_paired_evidence(params) else None
        summaries.write_arrays(arrays_path, arrays)
        summaries.write_summary(summary_path, relative_to_repo({
            "section": NAME, "parameters": dataclasses.asdict(params), "provenance": provenance(params.profile),
            "train_config": str(setup.train_config), "model": reference.model, "dataset": reference.dataset,
            "results": results, "evidence": evidence,
            "loss_curves": {f"{result['label']} (seed {result['fields']['seed']})":
                            experiments.read_loss_curve(result["pretrain"]["run_dir"]) for result in first_seed},
            "reconstruction": {"split": "val", "mask_ratio": reference.mask_ratio,
                               "mask_patch_size": reference.mask_patch_size, "seed_of_models": params.seeds[0],
                               "images": params.num_reconstruction_images, "mean": reconstruction}}))
    return SectionResult(NAME, params, out_dir, summaries.read_summary(summary_path),
                         summaries.read_arrays(arrays_path))


def _first_seed_results(result: SectionResult) -> list[dict]:
    return _first_seed(result["results"], result.params.seeds)


def evidence_table(result: SectionResult) -> Markdown:
    """Held-out masked L1 per method and seed beside the baselines, with the paired difference (lower is better)."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    held_out = evidence["held_out"]
    table = experiment_tables.evidence_table(
        evidence, title=f"Held-out masked L1 ({result['model']}, {result['dataset']}, {held_out['images']} val "
                        f"images, {held_out['token_grid']}x{held_out['token_grid']} tokens, mask ratio "
                        f"{held_out['mask_ratio']})",
        baseline_names=PRETRAIN_BASELINES, lower_is_better=True, digits=4)
    return result.write_table("pretrain_evidence", table + provenance_line(result["provenance"]))


def evidence_figure(result: SectionResult) -> Figure | Markdown:
    """Held-out masked L1 per method (mean and 95 % CI over seeds) beside the baselines."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    figure = experiment_plots.plot_evidence(evidence, ylabel="held-out masked L1 (lower is better)",
                                            title=f"{result['model']} on {result['dataset']}: held-out masked L1",
                                            baseline_names=PRETRAIN_BASELINES)
    return result.save_figure(figure, "pretrain_val_masked_l1")


def pixel_use_verdict(ratio: float) -> str:
    """What a held-out masked L1 of ``ratio`` x the image-blind predictor's says about a model."""
    if ratio <= CLEARLY_USES_PIXELS:
        return "clearly uses the visible pixels"
    if ratio < 1:
        return "beats the image-blind predictor, but by less than 20 %"
    return "does NOT beat the image-blind predictor: it has not learnt to use the visible pixels"


def conclusion_lines(evidence: dict) -> list[str]:
    """The generated conclusions of the held-out comparison (one sentence per method, then the paired one)."""
    blind = evidence["baselines"]["image_blind"]
    lines = [f"{method}: held-out masked L1 = {ratio:.2f} x the image-blind baseline ({blind:.4f}); it "
             f"{pixel_use_verdict(ratio)}." for method, ratio in evidence["ratio_to_image_blind"].items()]
    return lines + [difference_verdict(evidence, lower_is_better=True)]


def conclusions(result: SectionResult) -> Markdown:
    """What the held-out comparison says, generated from the numbers."""
    evidence = result["evidence"]
    return NO_EVIDENCE if evidence is None else bullet_lines(conclusion_lines(evidence))


def hand_off_checkpoints(result: SectionResult) -> Markdown:
    """Record the first seed's checkpoints for the probing and analysis sections; returns the record."""
    path = record_pretrained_checkpoints(
        result.out_dir, {entry["label"]: from_repo(entry["pretrain"]["checkpoint"])
                         for entry in _first_seed_results(result)}, model=result["model"])
    return Markdown(f"`{relative_to_repo(str(path))}`:\n\n```json\n{path.read_text().strip()}\n```")


def loss_curves_figure(result: SectionResult) -> Figure:
    """Training loss per epoch of the first seed's runs, as logged and divided by the first epoch's value."""
    normalisations = sorted({entry["pretrain"]["loss_normalize"] for entry in result["results"]})
    figure = experiment_plots.plot_loss_curves(
        result["loss_curves"], title=f"{result['model']} on {result['dataset']}: pretraining loss (first seed)",
        note=f"loss_normalize = {', '.join(normalisations)} (mask: KAMIM's weighted sum is larger by construction)")
    return result.save_figure(figure, "pretrain_loss_curves")


def reconstructions_figure(result: SectionResult) -> Figure:
    """The same masked validation images reconstructed by each first-seed checkpoint."""
    figure = analysis_figures.reconstructions_figure(result.arrays, [entry["label"] for entry in
                                                                     _first_seed_results(result)],
                                                     max_images=result.params.num_reconstruction_images)
    return result.save_figure(figure, "pretrain_reconstructions")


def losses_table(result: SectionResult) -> Markdown:
    """Every seed's final training loss, and the first seed's reconstruction scores (the paper reports neither)."""
    loss_table = comparison_table(
        f"Pretraining: final train loss ({result['model']}, {result['dataset']})",
        experiment_tables.pretrain_rows(result["results"]),
        label_keys=("model", "dataset", "method", "seed", "epochs", "loss_normalize", "metric"),
        provenance=result["provenance"], digits=4)
    reconstruction = result["reconstruction"]
    scores = reconstruction["mean"]
    score_names = ["psnr_masked", "psnr_full", "ssim_masked", "ssim_full"]
    score_table = (f"### Reconstruction of {reconstruction['images']} {reconstruction['split']} images (models of "
                   f"seed {reconstruction['seed_of_models']}, mask ratio {reconstruction['mask_ratio']}; the paper's "
                   f"PSNR/SSIM are for ViT-B at mask ratio 0.4 on ImageNet: see notebook 10)\n\n"
                   + markdown_table(["method", *score_names, "paper"],
                                    [[label, *(scores[label][name] for name in score_names), "n/a"]
                                     for label in scores], digits=3)
                   + "\n" + provenance_line(result["provenance"]))
    return result.write_table("pretrain", loss_table + "\n" + score_table)


def deciles_figure(result: SectionResult) -> Figure | Markdown:
    """Unweighted masked-patch error per keypoint-density decile, per method (mean and 95 % CI over seeds)."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    weighting = evidence["weighting"]
    figure = experiment_plots.plot_density_deciles(
        weighting["error_by_density_decile"],
        title=f"masked-patch error by keypoint density ({weighting['detector']}, w_ps = "
              f"{weighting['weight_patch_size']} px; mean and 95 % CI over {len(evidence['seeds'])} seeds)")
    return result.save_figure(figure, "pretrain_error_by_density")


def weighting_table(result: SectionResult) -> Markdown:
    """The error per keypoint-density bin as a table (with each bin's patch count), and how concentrated KAMIM's
    weights are on the held-out images."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    weighting = evidence["weighting"]
    deciles = weighting["error_by_density_decile"]
    labels = list(deciles)
    rows = [[bin_name(row), f"{row['density_low']:.3f}–{row['density_high']:.3f}", bin_count(row),
             *(deciles[label][index]["error_mean"] for label in labels)]
            for index, row in enumerate(deciles[labels[0]])]
    table = ("### Unweighted masked-patch L1 by keypoint-density bin (held-out images)\n\n"
             + markdown_table(["bin", "density range", "patches", *labels], rows, digits=4)
             + f"\nWeight concentration (T = {weighting['temperature']:g}): the heaviest 10 % of patches hold "
               f"{100 * weighting['top10_weight_share']:.1f} % of the total weight (uniform: 10 %); mean maximum "
               f"weight {weighting['max_weight_mean']:.2f}. Paper: n/a.\n\n"
             + provenance_line(result["provenance"]))
    return result.write_table("pretrain_weighting", table)


def density_shift_sentence(deciles: dict) -> str | None:
    """Whether KAMIM moves accuracy towards keypoint-dense patches: its error change vs SimMIM's in the densest
    bin against the change in the sparsest one (the patches without keypoints, where there are any); None unless
    both methods are present."""
    if not {"simmim", "kamim"} <= set(deciles):
        return None
    change_top = deciles["kamim"][-1]["error_mean"] - deciles["simmim"][-1]["error_mean"]
    change_bottom = deciles["kamim"][0]["error_mean"] - deciles["simmim"][0]["error_mean"]
    sparsest = ("on the patches without keypoints" if deciles["kamim"][0].get("label") == "no keypoints"
                else "in the sparsest")
    return (f"In the densest keypoint-density bin KAMIM's error is {change_top:+.4f} vs SimMIM's, {sparsest} "
            f"{change_bottom:+.4f} (means over seeds; see the intervals in the figure): the weighting "
            + ("shifts accuracy towards keypoint-dense patches." if change_top < change_bottom else
               "does not shift accuracy towards keypoint-dense patches here."))


def weighting_conclusion(result: SectionResult) -> Markdown:
    """The generated sentence on where KAMIM's weighting moves the error."""
    evidence = result["evidence"]
    if evidence is None:
        return NO_EVIDENCE
    sentence = density_shift_sentence(evidence["weighting"]["error_by_density_decile"])
    return Markdown(sentence or "Needs both simmim and kamim.")


# --- reconstructions of the same masked validation images by each checkpoint ---------------------------------------

def reconstruction_arrays(checkpoints: Mapping[str, str | Path], config, *, num_images: int, seed: int = 0,
                          split: str = "val", device: str | torch.device = "cpu",
                          batch_size: int = 32) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Reconstruct the same masked images with each pretrained checkpoint.

    Args:
        checkpoints: label -> a pretrain checkpoint of ``config.model`` (e.g. {"simmim": ..., "kamim": ...}).
        config: a :class:`~kamim_lib.config.PretrainConfig` giving the data set, image size, final norm and the
            masks (``mask_patch_size``, ``mask_ratio``) — the pretraining's own.
        num_images: how many validation images (a seeded random subset, the same for every checkpoint).
        seed: picks the images and draws the masks.
        split: the data split the images come from.
        device: where the models run: a torch device, or the engine's "auto", "cpu", "cuda", "xla" (a few images
            need no TPU: "xla" runs them on the CPU).
        batch_size: images per forward pass.

    Returns:
        ``(arrays, metrics)``: arrays uint8 (num_images, 3, H, W) named ``reference``, ``masked`` and
        ``prediction/<label>``; metrics label -> mean ``psnr_masked``, ``psnr_full``, ``ssim_masked``,
        ``ssim_full`` over the images (un-normalised pixels in [0, 1]).
    """
    if not checkpoints:
        raise ValueError("checkpoints must name at least one pretrained checkpoint.")
    if not isinstance(device, torch.device):
        device = torch.device("cpu") if device == "xla" else resolve_analysis_device(device)
    inputs = load_analysis_images(config.dataset, num_images=num_images, img_size=config.img_size,
                                  root=config.data_root, split=split, seed=seed, **config.dataset_options)
    arrays: dict[str, torch.Tensor] = {}
    metrics: dict[str, dict] = {}
    masks = None
    for label, path in checkpoints.items():
        model = load_pretrained(path, config.model, strict=True, img_size=config.img_size,
                                final_norm=config.final_norm).to(device).eval()
        if masks is None:
            masks = analysis_masks(num_images, img_size=config.img_size, model_patch_size=model.patch_size,
                                   mask_patch_size=config.mask_patch_size, mask_ratio=config.mask_ratio, seed=seed)
            reference = unnormalize(inputs.images)
            arrays["reference"] = to_uint8_pixels(reference)
            arrays["masked"] = to_uint8_pixels(masked_input(reference, masks))
        result = reconstruct(model, inputs.images, masks, batch_size=batch_size)
        arrays[f"prediction/{label}"] = to_uint8_pixels(result.prediction)
        metrics[label] = {name: float(values[torch.isfinite(values)].mean()) if torch.isfinite(values).any()
                          else None for name, values in result.metrics.items()}
    return arrays, metrics


__all__ = ["Params", "parameters", "plan", "compute", "evidence_table", "evidence_figure", "conclusions",
           "hand_off_checkpoints", "loss_curves_figure", "reconstructions_figure", "losses_table", "deciles_figure",
           "weighting_table", "weighting_conclusion", "pixel_use_verdict", "conclusion_lines",
           "density_shift_sentence", "reconstruction_arrays"]
