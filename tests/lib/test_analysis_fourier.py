import math

import numpy as np
import pytest
import torch

from kamim_lib.analysis import fourier_diagonal_profile, fourier_relative_log_amplitude, log_amplitude_spectrum
from kamim_lib.analysis.fourier import DEFAULT_EPS, feature_map

G = 12


def tokens_from_map(maps: torch.Tensor, with_cls: bool = True) -> torch.Tensor:
    """(B, C, g, g) → (B, [1 +] g², C) tokens in raster order, CLS filled with a huge value that must be ignored."""
    batch, channels, side, _ = maps.shape
    tokens = maps.reshape(batch, channels, side * side).transpose(1, 2)
    if with_cls:
        tokens = torch.cat((torch.full((batch, 1, channels), 1e6), tokens), dim=1)
    return tokens


def grid(side=G):
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    return rows.double(), cols.double()


def test_constant_map_has_no_high_frequency_amplitude():
    value = 0.7
    hidden = tokens_from_map(torch.full((2, 4, G, G), value, dtype=torch.float64))
    profile = fourier_diagonal_profile(hidden)
    expected = math.log(DEFAULT_EPS) - math.log(G * G * value + DEFAULT_EPS)
    assert profile.delta_log_amplitude.item() == pytest.approx(expected, abs=1e-6)
    assert expected < -18
    assert torch.allclose(profile.relative_log_amplitude[1:], torch.full((5,), expected, dtype=torch.float64))
    assert profile.relative_log_amplitude[0].item() == 0.0


def test_plane_wave_at_the_highest_diagonal_frequency_gives_minus_log_two():
    # 1 + cos(2π k (i + j) / g): DC amplitude g², amplitude g²/2 at (k, k) → ΔLog = −log 2.
    rows, cols = grid()
    k_max = math.ceil(G / 2) - 1
    wave = 1 + torch.cos(2 * math.pi * k_max * (rows + cols) / G)
    profile = fourier_diagonal_profile(tokens_from_map(wave.expand(1, 3, G, G)))
    assert profile.frequencies[-1].item() == pytest.approx(2 * k_max / G)  # 5/6 π for g = 12
    assert profile.delta_log_amplitude.item() == pytest.approx(-math.log(2), abs=1e-6)


def test_checkerboard_lives_at_nyquist_which_the_reference_profile_excludes():
    rows, cols = grid()
    checkerboard = ((-1.0) ** (rows + cols)).expand(2, 3, G, G)
    hidden = tokens_from_map(checkerboard)
    with_nyquist = fourier_diagonal_profile(hidden, include_nyquist=True)
    assert with_nyquist.frequencies[-1].item() == 1.0
    expected = math.log(G * G + DEFAULT_EPS) - math.log(DEFAULT_EPS)
    assert with_nyquist.delta_log_amplitude.item() == pytest.approx(expected, abs=1e-6)
    assert with_nyquist.delta_log_amplitude.item() > 18
    # Reference convention: the (π, π) bin sits on the other side of the shifted spectrum and is not profiled,
    # so the checkerboard's profile is flat (zero DC and zero amplitude at 5π/6).
    reference = fourier_diagonal_profile(hidden)
    assert reference.frequencies.shape == (6,)
    assert reference.delta_log_amplitude.item() == pytest.approx(0.0, abs=1e-6)
    constant = fourier_diagonal_profile(tokens_from_map(torch.ones(2, 3, G, G, dtype=torch.float64)),
                                        include_nyquist=True)
    assert with_nyquist.delta_log_amplitude > constant.delta_log_amplitude + 30


def test_smooth_maps_have_more_negative_delta_than_white_noise():
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(4, 8, G, G, generator=generator)
    smooth = noise.cumsum(dim=-1).cumsum(dim=-2)  # integrating twice suppresses high frequencies
    noise_delta = fourier_diagonal_profile(noise).delta_log_amplitude.item()
    smooth_delta = fourier_diagonal_profile(smooth).delta_log_amplitude.item()
    assert abs(noise_delta) < 0.5
    assert smooth_delta < noise_delta - 2


def test_spectrum_matches_numpy_reference_computation():
    generator = torch.Generator().manual_seed(1)
    maps = torch.randn(3, 5, G, G, generator=generator, dtype=torch.float64)
    expected = np.fft.fftshift(np.log(np.abs(np.fft.fft2(maps.numpy())) + DEFAULT_EPS), axes=(-2, -1)).mean(axis=(0, 1))
    spectrum = log_amplitude_spectrum(tokens_from_map(maps))
    assert np.allclose(spectrum.numpy(), expected)
    profile = fourier_diagonal_profile(maps)
    diagonal = np.diagonal(expected)[G // 2:]
    assert np.allclose(profile.relative_log_amplitude.numpy(), diagonal - diagonal[0])


def test_tokens_are_laid_out_in_raster_order():
    hidden = torch.arange(2 * (1 + G * G) * 3, dtype=torch.float32).reshape(2, 1 + G * G, 3)
    maps = feature_map(hidden)
    assert maps.shape == (2, 3, G, G)
    assert maps[1, 2, 4, 7] == hidden[1, 1 + 4 * G + 7, 2]


def test_odd_grids_have_no_nyquist_bin():
    profile = fourier_diagonal_profile(torch.randn(1, 2, 7, 7), include_nyquist=True)
    assert torch.allclose(profile.frequencies, torch.tensor([0, 2 / 7, 4 / 7, 6 / 7]))


def test_per_layer_analysis_returns_delta_and_profiles():
    rows, cols = grid()
    layers = [torch.ones(2, 1 + G * G, 4), tokens_from_map((1 + (-1.0) ** (rows + cols)).expand(2, 4, G, G)).float()]
    analysis = fourier_relative_log_amplitude(layers)
    assert analysis.delta_log_amplitude.shape == (2,)
    assert len(analysis.profiles) == 2 and analysis.profiles[0].shape == (6,)
    assert analysis.delta_log_amplitude[0] == analysis.profiles[0][-1]
    assert torch.allclose(analysis.frequencies[1], torch.arange(6) / 6)
    with pytest.raises(ValueError, match="one tensor per layer"):
        fourier_relative_log_amplitude(layers[0])


def test_cls_is_dropped_and_wrong_has_cls_is_reported():
    maps = torch.randn(2, 3, G, G)
    assert torch.allclose(fourier_diagonal_profile(tokens_from_map(maps)).relative_log_amplitude,
                          fourier_diagonal_profile(tokens_from_map(maps, with_cls=False), has_cls=False)
                          .relative_log_amplitude, atol=1e-5)
    with pytest.raises(ValueError, match="has_cls"):
        fourier_diagonal_profile(tokens_from_map(maps), has_cls=False)
    with pytest.raises(ValueError, match="eps"):
        fourier_diagonal_profile(maps, eps=0)
