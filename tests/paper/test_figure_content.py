"""What the figures draw from the numbers they are given: no heatmap for one cell, no throughput from unrepeated
timings, reconstructions with the visible pixels pasted back, density bins with their counts."""
from __future__ import annotations

import numpy as np
from matplotlib.image import AxesImage

from kamim_paper.results.figures import analysis, experiments, peers


def test_a_one_cell_grid_is_drawn_as_points_not_a_heatmap():
    figure = experiments.plot_heatmaps({"L1": [[0.75]], "top-1": [[92.2]]}, row_labels=[6], column_labels=[0.25],
                                       row_name="w_ps", column_name="T", centers={"L1": 0.62},
                                       seed_values={"L1": [[[0.74, 0.75, 0.76]]]})
    assert not any(isinstance(artist, AxesImage) for ax in figure.axes for artist in ax.get_children())
    assert len(figure.axes) == 2  # no colour bars
    l1_legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert "mean, 95 % CI (3 seeds)" in l1_legend and "reference 0.62" in l1_legend
    assert "one cell of the grid" in figure.get_suptitle()
    grid = experiments.plot_heatmaps({"L1": [[0.7, 0.8]]}, row_labels=[6], column_labels=[0.25, 1.0],
                                     row_name="w_ps", column_name="T")
    assert any(isinstance(artist, AxesImage) for artist in grid.axes[0].get_children())


def _curves(timings: int) -> dict:
    return {label: {"keep_rate": [1.0, 0.2], "top1": [40.0, 31.0], "top1_low": [39.0, 30.0],
                    "top1_high": [41.0, 32.0], "images_per_s": [46.0, 1703.0], "images_per_s_median": [46.0, 60.0],
                    "images_per_s_low": [45.0, 58.0], "images_per_s_high": [47.0, 1703.0],
                    "timings": [timings, timings], "tokens": [65, 13]} for label in ("kamim", "kamim+pss")}


def test_throughput_is_plotted_only_from_repeated_timings():
    single = peers.plot_dynamic_inference(_curves(1))
    cost = single.axes[1]
    assert cost.get_ylabel() == "tokens per image (CLS included)"
    assert [list(line.get_ydata()) for line in cost.lines] == [[65, 13], [65, 13]]
    assert "benchmarks/pss_step.py" in single.get_supxlabel()
    repeated = peers.plot_dynamic_inference(_curves(3))
    assert repeated.axes[1].get_ylabel().startswith("images / s (median of 3+ timings")
    assert list(repeated.axes[1].lines[0].get_ydata()) == [46.0, 60.0]


def test_sweep_costs_keep_the_spread_and_the_token_counts():
    rows = lambda speed: [{"keep_rate": 1.0, "tokens": 65, "top1": 40.0, "images_per_s": speed}]  # noqa: E731
    costs = peers.sweep_costs([{"label": "kamim", "seed": seed, "rows": rows(speed)}
                               for seed, speed in enumerate([50.0, 60.0, 1700.0])])
    cost = costs["kamim"]
    assert cost["images_per_s_median"] == [60.0] and cost["images_per_s_low"] == [50.0]
    assert cost["images_per_s_high"] == [1700.0] and cost["timings"] == [3] and cost["tokens"] == [65]


def test_without_token_counts_or_repeated_timings_there_is_no_cost_panel():
    curves = {label: {key: values for key, values in curve.items() if key in ("keep_rate", "top1", "top1_low",
                                                                               "top1_high", "images_per_s")}
              for label, curve in _curves(1).items()}
    figure = peers.plot_dynamic_inference(curves)
    assert len(figure.axes) == 1 and "throughput not plotted" in figure.get_supxlabel()
    sweeps = [{"label": label, "seed": 0, "rows": [{"keep_rate": 1.0, "tokens": 65, "images_per_s": 46.0},
                                                    {"keep_rate": 0.2, "tokens": 13, "images_per_s": 1703.0}]}
              for label in curves]
    with_sweeps = peers.plot_dynamic_inference(curves, sweeps=sweeps)
    assert len(with_sweeps.axes) == 2 and list(with_sweeps.axes[1].lines[0].get_ydata()) == [65, 13]


def _reconstruction_arrays(with_mask: bool) -> dict:
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (2, 3, 24, 24), dtype=np.uint8)
    reference[0, :, 0:6, 0:6] = analysis.MASK_FILL  # a visible block that happens to be the grey of the fill
    tokens = np.zeros((2, 4, 4), dtype=bool)
    tokens[0, 1, 1] = tokens[0, 3, 2] = tokens[1, 0, 3] = True
    pixels = tokens.repeat(6, axis=1).repeat(6, axis=2)
    masked = np.where(pixels[:, None], analysis.MASK_FILL, reference).astype(np.uint8)
    prediction = np.full_like(reference, 7)
    arrays = {"reference": reference, "masked": masked, "prediction/simmim": prediction}
    if with_mask:
        arrays["mask"] = tokens.astype(np.uint8)
    return arrays, pixels


def test_the_mask_is_read_off_the_masked_input_or_taken_from_the_optional_array():
    for with_mask in (False, True):
        arrays, pixels = _reconstruction_arrays(with_mask)
        assert np.array_equal(analysis.reconstruction_mask(arrays), pixels)


def test_reconstructions_paste_the_visible_pixels_back_and_outline_the_mask():
    arrays, pixels = _reconstruction_arrays(False)
    figure = analysis.reconstructions_figure(arrays, ["simmim"])
    drawn = figure.axes[2].get_images()[0].get_array()  # row 0, column "SimMIM"
    expected = np.where(pixels[0][..., None], 7, arrays["reference"][0].transpose(1, 2, 0)) / 255
    assert np.allclose(drawn, expected)
    assert figure.axes[2].collections and "outlined masked region" in figure.get_suptitle()
    raw = analysis.reconstructions_figure(arrays, ["simmim"], paste_visible=False)
    assert np.allclose(raw.axes[2].get_images()[0].get_array(), 7 / 255)


def test_density_ticks_give_the_bins_and_their_counts():
    rows = [{"decile": 0, "label": "no keypoints", "density_low": 0.0, "density_high": 0.0, "error_mean": 0.5,
             "count": 300, "patches": 300},
            {"decile": 1, "label": "Q 0–50 %", "density_low": 0.1, "density_high": 0.5, "error_mean": 0.6,
             "count": 120, "patches": 120},
            {"decile": 2, "label": "Q 50–100 %", "density_low": 1.0, "density_high": 1.0, "error_mean": 0.7,
             "count": 80, "patches": 80}]
    figure = experiments.plot_density_deciles({"simmim": rows})
    ticks = [text.get_text() for text in figure.axes[0].get_xticklabels()]
    assert ticks == ["no\nkeypoints\nn=300", "0.10–\n0.50\nn=120", "1.00\nn=80"]
    assert "no keypoints, then quantile bins" in figure.axes[0].get_xlabel()
