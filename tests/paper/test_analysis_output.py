import json

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from kamim_lib.analysis import FourierAnalysis, JointPCA
from kamim_paper.results import published
from kamim_paper.results.rows import per_layer_rows
from kamim_paper.results.figures import plots


def test_per_layer_rows_are_json_columns():
    rows = per_layer_rows(torch.tensor([1.5, float("inf"), float("nan")]))
    assert rows == {"layer": [1, 2, 3], "value": [1.5, None, None]}
    json.dumps(rows, allow_nan=False)
    labelled = per_layer_rows([torch.tensor(0.25), 2], layers=["x", 1])
    assert labelled == {"layer": ["x", 1], "value": [0.25, 2.0]}
    per_head = per_layer_rows([torch.tensor([1.0, 2.0]), torch.tensor([3.0])], first_layer=0)
    assert per_head == {"layer": [0, 1], "value": [[1.0, 2.0], [3.0]]}
    assert per_layer_rows(np.array([[1.0, 2.0]]))["value"] == [[1.0, 2.0]]
    with pytest.raises(ValueError, match="layers"):
        per_layer_rows([1.0, 2.0], layers=[1])
    with pytest.raises(ValueError, match="scalar"):
        per_layer_rows(torch.tensor(1.0))


def test_published_curves_are_spec_section_3():
    assert published.ATTENTION_LAYERS == tuple(range(1, 13))
    for table in (published.ATTENTION_DISTANCE_PX, published.ATTENTION_NMI,
                  published.FOURIER_DELTA_LOG_AMPLITUDE):
        assert set(table) == {"simmim", "kamim"}
        assert all(len(values) == 12 for values in table.values())
    assert published.ATTENTION_DISTANCE_PX["simmim"][0] == 96.3
    assert published.ATTENTION_DISTANCE_PX["kamim"][1] == 100.2
    assert published.ATTENTION_NMI["simmim"][3] == 0.270
    assert published.ATTENTION_NMI["kamim"][-1] == 0.003
    assert published.FOURIER_LAYERS[0] == "x" and published.FOURIER_LAYERS[-1] == 11
    assert published.FOURIER_DELTA_LOG_AMPLITUDE["simmim"][0] == -0.92
    assert published.FOURIER_DELTA_LOG_AMPLITUDE["kamim"][-1] == -2.64
    assert published.RECONSTRUCTION_PSNR_RANGE == (12.06, 12.09)
    assert published.RECONSTRUCTION_SSIM_RANGE == (0.108, 0.115)


def test_layer_curve_plot_draws_ours_and_the_paper(tmp_path):
    figure = plots.plot_layer_curves({"ours": torch.arange(12.0)},
                                     reference={"simmim": published.ATTENTION_DISTANCE_PX["simmim"]},
                                     ylabel="px")
    assert isinstance(figure, Figure)
    lines = figure.axes[0].get_lines()
    assert len(lines) == 2 and lines[1].get_linestyle() == "--"
    assert np.allclose(lines[1].get_ydata(), published.ATTENTION_DISTANCE_PX["simmim"])
    path = plots.save_figure(figure, tmp_path / "sub" / "curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="same length"):
        plots.plot_layer_curves({"a": [1, 2]}, reference={"b": [1, 2, 3]})


def test_other_plots_build_figures():
    analysis = FourierAnalysis(torch.tensor([-1.0, -2.0]), [torch.zeros(6), -torch.arange(6.0)],
                               [torch.arange(6) / 6] * 2)
    assert len(plots.plot_fourier_profiles(analysis, labels=["x", "1"]).axes[0].get_lines()) == 2
    # A 4 x 4 token grid gives 2 diagonal frequencies: the panel says so instead of drawing 2-point "spectra".
    degenerate = FourierAnalysis(torch.tensor([-1.0]), [torch.tensor([0.0, -1.0])], [torch.tensor([0.0, 0.5])])
    axes = plots.plot_fourier_profiles(degenerate, labels=["x"]).axes[0]
    assert not axes.get_lines() and "too small for a spectrum" in axes.texts[0].get_text()
    assert len(plots.plot_attention_maps(torch.rand(3, 12, 12), titles=["a", "b", "c"], query=(2, 3)).axes) == 3
    assert len(plots.plot_embedding(np.random.rand(10, 2), np.array([0, 1] * 5)).axes[0].collections) == 2
    pca = JointPCA(np.zeros((4, 2)), np.ones((4, 2)), np.array([0.6, 0.3]), np.eye(2, 5), np.zeros(5))
    assert "60.0%" in plots.plot_pre_post_pca(pca).axes[0].get_xlabel()
    grid = plots.plot_image_grid({"reference": torch.rand(5, 3, 8, 8), "kamim": torch.rand(5, 3, 8, 8)}, max_images=2)
    assert len(grid.axes) == 4
    with pytest.raises(ValueError, match="same B"):
        plots.plot_image_grid({"a": torch.rand(2, 3, 8, 8), "b": torch.rand(3, 3, 8, 8)})


def test_exact_uniform_distance_constant_is_consistent_with_the_paper_scale():
    # KAMIM's reported curve sits at the uniform-attention value (SPEC §3): every value within 0.5 px of it.
    assert all(abs(v - 99.7529) < 0.5 for v in published.ATTENTION_DISTANCE_PX["kamim"])
