"""Every figure function of ``kamim_paper.results.figures`` draws nothing outside its canvas.

Each case renders one figure the way its notebook or section does, from the committed ``results/smoke`` summaries
and arrays where they exist (otherwise from representative inputs), draws it at the PNG's dpi and checks that the
window extent of every text artist actually drawn (titles, labels, tick labels, legends, annotations; measured
as ``fig.canvas.draw()`` draws it, during the save) lies inside the figure: a clipped title or legend fails here. ``KAMIM_FIGURE_DIR=folder`` also writes each case as a PNG to look at.
"""
from __future__ import annotations

import inspect
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from kamim_paper.results.figures import analysis, experiments, masking, method, peers, plots

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "results" / "smoke"
DPI = 150  # plots.save_figure's
TOLERANCE_PX = 1.0


def _summary(section: str) -> dict:
    return json.loads((SMOKE / section / "summary.json").read_text())


def _arrays(section: str) -> dict:
    with np.load(SMOKE / section / "arrays.npz") as data:
        return {key: data[key] for key in data.files}


def _labels(summary: dict) -> list[str]:
    return list(summary["models"])


def drawn_extents(figure: Figure) -> tuple[list[tuple[Text, object]], tuple[float, float]]:
    """Save ``figure`` as a PNG at the dpi of ``plots.save_figure``; the text artists the renderer actually drew
    with their window extents measured as they were drawn, and the canvas size (pixels).

    Measured during the save itself: constrained layout can place things differently on a later draw, and the
    committed PNG is the first draw.
    """
    FigureCanvasAgg(figure)
    drawn: list[tuple[Text, object]] = []
    canvas: list[tuple[float, float]] = []
    original = Text.draw

    def recording(self, renderer):
        if self.get_visible() and self.get_text():
            drawn.append((self, self.get_window_extent(renderer).frozen()))
            canvas.append((renderer.width, renderer.height))
        return original(self, renderer)

    Text.draw = recording
    try:
        figure.savefig(io.BytesIO(), format="png", dpi=DPI)
    finally:
        Text.draw = original
    return drawn, canvas[0] if canvas else (figure.bbox.width, figure.bbox.height)


def outside_canvas(figure: Figure) -> list[str]:
    """Descriptions of the drawn text artists whose extent leaves the canvas."""
    drawn, (width, height) = drawn_extents(figure)
    problems = []
    unique = {(id(text), tuple(np.round(box.bounds, 1))): (text, box) for text, box in drawn}  # drawn twice: once
    for text, box in unique.values():
        if (box.x0 < -TOLERANCE_PX or box.y0 < -TOLERANCE_PX or box.x1 > width + TOLERANCE_PX
                or box.y1 > height + TOLERANCE_PX):
            problems.append(f"{text.get_text()[:60]!r}: [{box.x0:.0f}, {box.x1:.0f}] x [{box.y0:.0f}, {box.y1:.0f}] "
                            f"outside {width:.0f} x {height:.0f}")
    return problems


# --- the figures, drawn as their notebooks / sections draw them ----------------------------------------------------

def _where(summary: dict) -> str:
    result = summary["results"][0]
    source = result.get("evaluation") or result["pretrain"]
    return f"{source['model']}, {source['dataset']}"


def pretrain_val_masked_l1():
    from kamim_paper.evidence.views import PRETRAIN_BASELINES

    summary = _summary("pretrain")
    return experiments.plot_evidence(summary["evidence"], ylabel="held-out masked L1 (lower is better)",
                                     title=f"{summary['model']} on {summary['dataset']}: held-out masked L1",
                                     baseline_names=PRETRAIN_BASELINES)


def pretrain_loss_curves():
    summary = _summary("pretrain")
    normalisations = sorted({entry["pretrain"]["loss_normalize"] for entry in summary["results"]})
    return experiments.plot_loss_curves(
        summary["loss_curves"], title=f"{summary['model']} on {summary['dataset']}: pretraining loss (first seed)",
        note=f"loss_normalize = {', '.join(normalisations)} (mask: KAMIM's weighted sum is larger by construction)")


def pretrain_reconstructions():
    arrays = _arrays("pretrain")
    labels = [key.split("/", 1)[1] for key in arrays if key.startswith("prediction/")]
    return analysis.reconstructions_figure(arrays, labels, max_images=4)


def pretrain_error_by_density():
    evidence = _summary("pretrain")["evidence"]
    weighting = evidence["weighting"]
    return experiments.plot_density_deciles(
        weighting["error_by_density_decile"],
        title=f"masked-patch error by keypoint density ({weighting['detector']}, w_ps = "
              f"{weighting['weight_patch_size']} px; mean and 95 % CI over {len(evidence['seeds'])} seeds)")


def density_bins_with_ties():
    """A record of the tie-aware bins (no keypoints, then quantile bins of the rest; ties merge two of them)."""
    edges = [0.0, 0.0, 0.05, 0.12, 0.21, 0.33, 0.47, 0.62, 0.8, 0.97, 1.0, 1.0]

    def rows(errors):
        out = []
        for number, error in enumerate(errors):
            low, high = (0.0, 0.0) if number == 0 else (edges[number + 1], edges[number + 2] if number < 9 else 1.0)
            out.append({"decile": number, "label": "no keypoints" if number == 0 else f"Q {10 * number - 10}–"
                        f"{10 * number} %", "density_low": low, "density_high": high, "density_mean": (low + high) / 2,
                        "error_mean": error, "error_low": error - 0.02, "error_high": error + 0.02,
                        "count": 17280 if number == 0 else 4032, "patches": 17280 if number == 0 else 4032})
        return out

    return experiments.plot_density_deciles(
        {"simmim": rows([0.58, 0.49, 0.5, 0.52, 0.55, 0.6, 0.63, 0.69, 0.76, 0.86]),
         "kamim": rows([0.85, 0.78, 0.77, 0.76, 0.74, 0.72, 0.7, 0.67, 0.64, 0.63])},
        title="masked-patch error by keypoint density (fast, w_ps = 6 px; mean and 95 % CI over 5 seeds)")


def _mean_bars(summary: dict, metrics: dict) -> dict:
    bars: dict = {}
    for result in summary["results"]:
        for key, name in metrics.items():
            value = result["evaluation"].get(key)
            if value is not None:
                bars.setdefault(result["label"], {}).setdefault(name, []).append(value)
    return {label: {name: sum(values) / len(values) for name, values in entries.items()}
            for label, entries in bars.items()}


def linprobe_top1():
    summary = _summary("linprobe")
    evaluation = summary["results"][0]["evaluation"]
    return experiments.plot_metric_bars(
        _mean_bars(summary, {"top1": "SGD head top-1 (mean)", "knn_top1": "kNN top-1 (mean)"}), ylabel="top-1 %",
        title=f"Frozen features of {evaluation['model']} ({evaluation['dataset']}), mean over "
              f"{len(summary['parameters']['seeds'])} seeds")


def linprobe_evidence():
    from kamim_paper.evidence.views import PROBE_BASELINES

    summary = _summary("linprobe")
    return experiments.plot_evidence(summary["evidence"], ylabel="top-1 % (logistic regression, frozen features)",
                                     title=f"{_where(summary)}: linear probe, block 6", baseline_names=PROBE_BASELINES)


def finetune_accuracy():
    summary = _summary("finetune")
    evaluation = summary["results"][0]["evaluation"]
    return experiments.plot_metric_bars(
        _mean_bars(summary, {"top1": "top-1 (mean)", "top5": "top-5 (mean)"}), ylabel="accuracy %",
        title=f"Fine-tuned {evaluation['model']} ({evaluation['dataset']}), mean over "
              f"{len(summary['parameters']['seeds'])} seeds")


def finetune_evidence():
    from kamim_paper.evidence.views import FINETUNE_BASELINES

    summary = _summary("finetune")
    return experiments.plot_evidence(summary["evidence"], ylabel="top-1 %", baseline_names=FINETUNE_BASELINES,
                                     title=f"{_where(summary)}: fine-tuning")


def _comparisons(section: str, name: str):
    summary = _summary(section)
    return experiments.ablation_comparisons_figure(summary["evidence"],
                                                   title=f"{name} ({_where(summary)}): paired differences")


def detector_ablation():
    return _comparisons("detectors", "Keypoint detector ablation")


def sweep_comparisons():
    return _comparisons("sweep", "w_ps x T sweep and controls")


def _section_density(section: str):
    return experiments.ablation_density_figure(_summary(section)["evidence"])


def detector_error_by_density():
    return _section_density("detectors")


def sweep_error_by_density():
    return _section_density("sweep")


def _sweep_panels(summary: dict):
    from kamim_paper.evidence.checkpoint_measures import METRICS

    evidence, parameters = summary["evidence"], summary["parameters"]
    labels = {(result["fields"].get("weight_patch_size"), result["fields"].get("temperature")): result["label"]
              for result in summary["results"]}
    panels, centers, seeds = {}, {}, {}
    for metric, name in METRICS.items():
        means = {label: sum(per) / len(per) for label, per in evidence[metric].items()}
        panel = f"{name}, mean of {len(parameters['seeds'])} seed(s)"
        panels[panel] = [[means.get(labels.get((size, t))) for t in parameters["temperatures"]]
                         for size in parameters["weight_patch_sizes"]]
        seeds[panel] = [[evidence[metric].get(labels.get((size, t)), []) for t in parameters["temperatures"]]
                        for size in parameters["weight_patch_sizes"]]
        centers[panel] = means.get("simmim")
    return panels, centers, seeds


def wps_temperature_sweep():
    summary = _summary("sweep")
    panels, centers, _ = _sweep_panels(summary)
    parameters = summary["parameters"]
    return experiments.plot_heatmaps(panels, row_labels=parameters["weight_patch_sizes"],
                                     column_labels=parameters["temperatures"], row_name="w_ps (px)",
                                     column_name="temperature T", title=f"KAMIM w_ps x T ({_where(summary)})",
                                     centers=centers)


def wps_temperature_sweep_with_seeds():
    summary = _summary("sweep")
    panels, centers, seeds = _sweep_panels(summary)
    parameters = summary["parameters"]
    return experiments.plot_heatmaps(panels, row_labels=parameters["weight_patch_sizes"],
                                     column_labels=parameters["temperatures"], row_name="w_ps (px)",
                                     column_name="temperature T", title=f"KAMIM w_ps x T ({_where(summary)})",
                                     centers=centers, seed_values=seeds)


def heatmap_grid():
    values = [[0.61, 0.64, None], [0.66, 0.70, 0.72]]
    return experiments.plot_heatmaps({"held-out masked L1, mean of 3 seed(s)": values,
                                      "probe top-1 %, mean of 3 seed(s)": [[80.1, 82.3, 79.9], [None, 81.0, 83.4]]},
                                     row_labels=[6, 8], column_labels=[0.1, 0.25, 1.0], row_name="w_ps (px)",
                                     column_name="temperature T", title="KAMIM w_ps x T (vit_micro12, photo_crops)",
                                     centers={"held-out masked L1, mean of 3 seed(s)": 0.62})


def masking_strategies():
    summary = _summary("masking")
    return masking.plot_masking_evidence(summary["evidence"], title=f"Masking strategies ({_where(summary)}, "
                                                                    f"epochs: 2)")


def _peers():
    from kamim_paper.sections import peers as peer_section

    summary = _summary("peers")
    evaluated = summary["results"]["peers"] + summary["results"]["baselines"]
    where = f"{evaluated[0]['evaluation']['model']}, {evaluated[0]['evaluation']['dataset']}"
    return peer_section, summary, evaluated, where


def peers_seed_bars():
    peer_section, summary, evaluated, where = _peers()
    protocol = evaluated[0]["protocol"]
    values = peer_section.per_seed(evaluated, protocol, "top1")
    return peers.plot_seed_bars(values, ylabel=f"{protocol} top-1 %", title=f"Peers: {protocol} top-1 % ({where})")


def peers_dynamic_inference():
    peer_section, summary, _, where = _peers()
    return peers.plot_dynamic_inference(peer_section.sweep_curves(summary["sweeps"]),
                                        title=f"Dynamic inference ({where}); solid: trained with PSS")


def peers_dynamic_inference_with_sweeps():
    peer_section, summary, _, where = _peers()
    return peers.plot_dynamic_inference(peer_section.sweep_curves(summary["sweeps"]), sweeps=summary["sweeps"],
                                        title=f"Dynamic inference ({where}); solid: trained with PSS")


def peers_dynamic_inference_timed():
    rates = [1.0, 0.6, 0.2]
    curves = {label: {"keep_rate": rates, "top1": [40, 38, 31], "top1_low": [39, 36, 29], "top1_high": [42, 39, 33],
                      "images_per_s": [45, 80, 200], "images_per_s_median": [45, 80, 200],
                      "images_per_s_low": [40, 70, 150], "images_per_s_high": [50, 90, 260], "timings": [3, 3, 3],
                      "tokens": [65, 39, 13]} for label in ("kamim", "kamim+pss")}
    return peers.plot_dynamic_inference(curves, title="Dynamic inference (vit_micro12, photo_crops)")


def attention_distance_nmi():
    return analysis.attention_curves_figure(_summary("attention"))


def attention_maps():
    summary, arrays = _summary("attention"), _arrays("attention")
    meta = summary["attention_maps"]
    return analysis.attention_maps_figure(arrays["images"], {label: arrays[f"maps/{label}"]
                                                             for label in _labels(summary)},
                                          meta.get("queries", tuple(meta["query"])),
                                          title=f"block {meta['block']}, head {meta['head']}")


def fourier_delta_log_amplitude():
    return analysis.fourier_figure(_summary("fourier"))


def tokens_tsne():
    summary, arrays = _summary("tokens"), _arrays("tokens")
    labels = _labels(summary)
    scores = {label: summary["models"][label].get("tsne_image_silhouette") for label in labels}
    return analysis.tsne_figure(arrays, labels, summary["tokens"]["tsne_layer"], scores)


def tokens_pre_post_attention_pca():
    summary = _summary("tokens")
    return analysis.pca_figure(_arrays("tokens"), _labels(summary), summary["tokens"]["pca_block"])


def tokens_homogeneity():
    return analysis.token_similarity_figure(_summary("tokens"))


def reconstructions():
    arrays = _arrays("reconstructions")
    labels = [key.split("/", 1)[1] for key in arrays if key.startswith("prediction/")]
    return analysis.reconstructions_figure(arrays, labels, max_images=4)


def layer_curves():
    summary = _summary("attention")
    return analysis.layer_curves_figure(summary, "nmi", ylabel="NMI", title="attention NMI",
                                        horizontal=("a reference line", 0.1))


def attention_map_row():
    maps = np.random.default_rng(0).random((3, 8, 8))
    return plots.plot_attention_maps(maps, titles=["SimMIM", "KAMIM", "random init"], query=(3, 4))


def image_grid():
    images = torch.rand(2, 3, 32, 32)
    mask = np.zeros((2, 32, 32), dtype=bool)
    mask[:, 8:24, 8:16] = True
    return plots.plot_image_grid({"reference": images, "masked input": images, "SimMIM": images}, outline=mask)


def method_keypoint_weights():
    generator = torch.Generator().manual_seed(0)
    images = (torch.rand(2, 3, 96, 96, generator=generator) * 255).to(torch.uint8)
    keypoints = (torch.rand(2, 1, 96, 96, generator=generator) > 0.97).float()
    density = torch.nn.functional.avg_pool2d(keypoints, 8).squeeze(1)
    density = density / density.flatten(1).max(dim=1).values.clamp(min=1e-9)[:, None, None]
    weights = torch.exp(density / 0.25)
    masks = (torch.rand(2, 8, 8, generator=generator) > 0.4).long()
    panels = method.MethodPanels(images, keypoints, density, weights, masks, model_patch_size=12)
    return method.method_figure(panels, title="KAMIM's weighting on 2 photo_crops images (FAST, w_ps = 8, T = 0.25)")


CASES = {name: function for name, function in dict(globals()).items()
         if inspect.isfunction(function) and function.__module__ == __name__ and not name.startswith("_")
         and name not in {"drawn_extents", "outside_canvas"}}

# figure functions of the package -> the cases that render them (the completeness test below keeps this honest)
COVERED = {
    "plots.plot_layer_curves": "layer_curves", "plots.plot_attention_maps": "attention_map_row",
    "plots.plot_fourier_profiles": "fourier_delta_log_amplitude", "plots.plot_embedding": "tokens_tsne",
    "plots.plot_pre_post_pca": "tokens_pre_post_attention_pca", "plots.plot_image_grid": "image_grid",
    "analysis.layer_curves_figure": "layer_curves", "analysis.attention_curves_figure": "attention_distance_nmi",
    "analysis.attention_maps_figure": "attention_maps", "analysis.fourier_figure": "fourier_delta_log_amplitude",
    "analysis.token_similarity_figure": "tokens_homogeneity", "analysis.tsne_figure": "tokens_tsne",
    "analysis.pca_figure": "tokens_pre_post_attention_pca", "analysis.reconstructions_figure": "reconstructions",
    "experiments.plot_loss_curves": "pretrain_loss_curves", "experiments.plot_metric_bars": "linprobe_top1",
    "experiments.plot_heatmaps": "wps_temperature_sweep", "experiments.plot_evidence": "pretrain_val_masked_l1",
    "experiments.plot_density_deciles": "pretrain_error_by_density",
    "experiments.plot_paired_comparisons": "sweep_comparisons", "masking.plot_masking_evidence": "masking_strategies",
    "experiments.ablation_comparisons_figure": "detector_ablation",
    "experiments.ablation_density_figure": "detector_error_by_density",
    "method.method_figure": "method_keypoint_weights", "peers.plot_seed_bars": "peers_seed_bars",
    "peers.plot_dynamic_inference": "peers_dynamic_inference",
}


def test_every_figure_function_has_a_case():
    modules = {"plots": plots, "analysis": analysis, "experiments": experiments, "masking": masking,
               "method": method, "peers": peers}
    functions = {f"{short}.{name}" for short, module in modules.items()
                 for name, function in vars(module).items()
                 if inspect.isfunction(function) and function.__module__ == module.__name__
                 and not name.startswith("_") and (name.startswith("plot_") or name.endswith("_figure"))
                 and name not in ("render_method_figure", "save_figure")}  # they save a Figure drawn above
    assert functions == set(COVERED), f"figure functions without a case: {sorted(functions - set(COVERED))}"
    assert set(COVERED.values()) <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_text_artist_lies_inside_the_canvas(name):
    figure = CASES[name]()
    problems = outside_canvas(figure)  # first: the layout of a figure's first draw is the one a PNG gets
    folder = os.environ.get("KAMIM_FIGURE_DIR")
    if folder:
        plots.save_figure(CASES[name](), Path(folder) / f"{name}.png", dpi=DPI)
    assert not problems, f"{name}: text outside the canvas:\n" + "\n".join(problems)


def test_the_check_catches_a_clipped_title():
    figure = Figure(figsize=(3, 2), layout="constrained")
    figure.add_subplot().set_title("a title far too long for a figure three inches wide " * 2)
    assert outside_canvas(figure)
