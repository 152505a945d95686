"""Section 5 (notebook ``05_detector_ablation``): which keypoint detector — FAST, SIFT or ORB?

First how many images of the data set each detector finds keypoints on at all (a detector that finds none makes
KAMIM identical to SimMIM), then KAMIM pretrained once per detector and seed beside SimMIM, every checkpoint
measured as in sections 2 and 3 (held-out masked L1 and a converged probe, beside their baselines), each detector
compared with SimMIM and SIFT/ORB with FAST by the mean paired difference and its 95 % interval, and the error
broken down by keypoint-density decile.

The notebook calls, in order: :func:`parameters`, :func:`plan`, :func:`compute`, :func:`coverage_table`,
:func:`coverage_warning`, :func:`tables`, :func:`comparisons_figure`, :func:`deciles_figure`, :func:`conclusions`.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from kamim_lib.data import build_dataset
from kamim_lib.keypoints.coverage import keypoint_coverage
from kamim_paper.evidence.ablation import variants_evidence
from kamim_paper.experiments import runs as experiments
from kamim_paper.experiments.training import training_setup
from kamim_paper.results import comparison_table, markdown_table, provenance, summaries
from kamim_paper.results.artifacts import relative_to_repo, section_output_dir
from kamim_paper.results.figures.experiments import ablation_comparisons_figure, ablation_density_figure
from kamim_paper.results.tables import experiments as experiment_tables
from kamim_paper.results.sentences import ablation_conclusions
from kamim_paper.results.tables.ablation import ablation_tables
from kamim_paper.results.tables.markdown import provenance_line
from kamim_paper.sections.outputs import Markdown, SectionResult, bullet_lines, parameters_of
from kamim_paper.sections.params import DetectorAblationParams as Params

NAME = "detectors"
# A detector that finds keypoints on fewer than this share of the images makes KAMIM close to SimMIM there.
COVERAGE_WARNING_SHARE = 0.9


# The notebook's parameters (its globals after the parameters cell), validated: unknown or mistyped names, wrong
# types and broken invariants are all reported by name.
parameters = parameters_of(Params)


@dataclasses.dataclass(frozen=True)
class _Setup:
    out_dir: object
    setup: object
    variants: list
    reference_config: object
    probe_config: object
    labels: list
    default_label: str | None


def detector_pairs(labels: Sequence[str], default_label: str | None) -> list[tuple[str, str]]:
    """Every KAMIM detector variant against SimMIM, then every other detector against ``default_label`` (the
    configured detector's variant)."""
    pairs = [(label, "simmim") for label in labels if label != "simmim"]
    if default_label is not None:
        pairs += [(label, default_label) for label in labels if label not in ("simmim", default_label)]
    return pairs


def _setup(params: Params) -> _Setup:
    out_dir = section_output_dir(params.output_dir, params.profile)
    setup = training_setup(params.train_config, params.overrides, out_dir, params.device)
    detector_variants = experiments.detector_variants(params.detectors, include_simmim="simmim" in params.methods)
    variants = experiments.seeded_variants(detector_variants, params.seeds)
    # KAMIM as configured: its data and mask geometry define the held-out set, its detector and w_ps the deciles
    reference_config = setup.pretrain_config(["method=kamim"])
    probe_config = setup.classifier_config("linprobe", variants[0].overrides, pretrained="scratch")
    labels = [variant.label for variant in detector_variants]
    default_label = f"kamim {reference_config.detector}" if f"kamim {reference_config.detector}" in labels else None
    return _Setup(out_dir, setup, variants, reference_config, probe_config, labels, default_label)


def plan(params: Params) -> dict:
    """What will be trained: runs (variant x seed), seeds, detectors and the engine protocol run besides."""
    state = _setup(params)
    return {"runs": len(state.variants), "seeds": params.seeds, "detectors": params.detectors,
            "engine protocol": params.protocol}


def _coverage(params: Params, reference_config) -> dict[str, dict]:
    """Keypoint coverage of each detector on the data set's training images at the training size."""
    coverage_images = build_dataset(reference_config.dataset, root=reference_config.data_root, split="train",
                                    **reference_config.dataset_options)
    pixels = np.stack([np.asarray(coverage_images[index][0].convert("RGB").resize(
        (reference_config.img_size, reference_config.img_size))) for index in range(len(coverage_images))])
    return keypoint_coverage(pixels, params.detectors)


def compute(params: Params) -> SectionResult:
    """Count each detector's keypoint coverage, pretrain (or reuse) every variant x seed, measure it and write the
    summary (coverage included).

    The training and measurement are skipped while ``<output_dir>/detectors/summary.json`` is current (same
    result-relevant parameters, same runs), unless ``params.force``; the coverage count is cheap and always runs.
    """
    state = _setup(params)
    summary_path = summaries.section_dir(state.out_dir, NAME) / summaries.SUMMARY_NAME
    coverage = _coverage(params, state.reference_config)
    if experiments.summary_is_stale(summary_path, params, params.force,
                                    experiments.planned_runs(state.setup, state.variants, params.engine_protocol)):
        results = experiments.run_variants(state.setup, state.variants, params.engine_protocol)
        evidence = variants_evidence(
            results, params.seeds, state.reference_config, state.probe_config,
            pairs=detector_pairs(state.labels, state.default_label))
        summaries.write_summary(summary_path, relative_to_repo({
            "section": NAME, "parameters": dataclasses.asdict(params), "provenance": provenance(params.profile),
            "train_config": str(state.setup.train_config), "results": results, "keypoint_coverage": coverage,
            "evidence": evidence}))
    return SectionResult(NAME, params, state.out_dir, summaries.read_summary(summary_path))


def coverage_markdown(coverage: dict[str, dict], dataset: str, img_size: int) -> str:
    """Markdown: per detector, the images with at least one keypoint, their share and the median count."""
    return (f"### Images with at least one keypoint ({dataset} train, {img_size} px, OpenCV defaults)\n\n"
            + markdown_table(["detector", "images", "with keypoints", "share %", "median keypoints", "paper"],
                             [[name, str(row["images"]), str(row["with_keypoints"]), 100 * row["share"],
                               row["median_keypoints"], "n/a"] for name, row in coverage.items()], digits=1))


def coverage_table(result: SectionResult) -> Markdown:
    """How many images each detector finds keypoints on (the data set's training images at the training size)."""
    reference_config = _setup(result.params).reference_config
    return Markdown(coverage_markdown(result["keypoint_coverage"], reference_config.dataset,
                                      reference_config.img_size))


def coverage_warnings(coverage: dict[str, dict], threshold: float = COVERAGE_WARNING_SHARE) -> list[str]:
    """One sentence per detector that finds keypoints on fewer than ``threshold`` of the images."""
    return [f"{name} finds keypoints on only {100 * row['share']:.0f} % of the images: KAMIM-{name} is close to "
            f"SimMIM here, and its row says little about the detector."
            for name, row in coverage.items() if row["share"] < threshold]


def coverage_verdict(coverage: dict[str, dict], threshold: float = COVERAGE_WARNING_SHARE) -> Markdown:
    """The warnings of :func:`coverage_warnings` as a list, or one sentence saying that every detector passed."""
    warnings = coverage_warnings(coverage, threshold)
    return bullet_lines(warnings) if warnings else Markdown(
        f"Every detector finds keypoints on at least {100 * threshold:.0f} % of the images.")


def coverage_warning(result: SectionResult) -> Markdown:
    """The generated warning for detectors that leave too many images without keypoints."""
    return coverage_verdict(result["keypoint_coverage"])


def _where(reference_config) -> str:
    return f"{reference_config.model}, {reference_config.dataset}"


def tables(result: SectionResult) -> Markdown:
    """The coverage table, the paired comparisons against SimMIM and FAST with the baselines (also written alone as
    the README's digest, ``detectors_evidence.md``), the engine protocol's runs if any, and the pretraining losses."""
    params, state = result.params, _setup(result.params)
    evidence, where = result["evidence"], _where(state.reference_config)
    parts = [coverage_markdown(result["keypoint_coverage"], state.reference_config.dataset,
                               state.reference_config.img_size),
             ablation_tables(
                 evidence, title=f"Detector ablation: held-out masked L1 and converged probe (block "
                                 f"{state.probe_config.probe_layer}), {len(evidence['seeds'])} paired seed(s) "
                                 f"({where})") + provenance_line(result["provenance"])]
    if params.engine_protocol is not None:
        parts.append(comparison_table(f"Detector ablation: {params.protocol} with the engine's head, every seed "
                                      f"({where})",
                                      experiment_tables.evaluation_rows(result["results"], with_paper=False),
                                      label_keys=("method", "detector", "seed", "metric"),
                                      provenance=result["provenance"]))
    parts.append(comparison_table(f"Detector ablation: pretraining ({where})",
                                  experiment_tables.pretrain_rows(result["results"]),
                                  label_keys=("method", "detector", "seed", "epochs", "loss_normalize", "metric"),
                                  digits=4, provenance=result["provenance"]))
    result.write_table("detectors_evidence", parts[1])  # the README's digest
    return result.write_table("detectors", "\n\n".join(parts))


def comparisons_figure(result: SectionResult) -> Figure:
    """Every paired difference (each detector vs SimMIM, SIFT/ORB vs FAST) with its 95 % interval."""
    title = f"Keypoint detector ablation ({_where(_setup(result.params).reference_config)}): paired differences"
    return result.save_figure(ablation_comparisons_figure(result["evidence"], title=title), "detector_ablation")


def deciles_figure(result: SectionResult) -> Figure:
    """Unweighted masked-patch error per keypoint-density bin, per variant (mean and 95 % CI over seeds)."""
    return result.save_figure(ablation_density_figure(result["evidence"]), "detector_error_by_density")


def conclusions(result: SectionResult) -> Markdown:
    """One generated sentence per paired comparison and per density-bin comparison."""
    return bullet_lines(ablation_conclusions(result["evidence"]))


__all__ = ["Params", "parameters", "plan", "compute", "coverage_table", "coverage_warning", "tables",
           "comparisons_figure", "deciles_figure", "conclusions", "coverage_markdown", "coverage_warnings",
           "coverage_verdict", "COVERAGE_WARNING_SHARE"]
