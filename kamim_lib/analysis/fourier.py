"""Relative log amplitude of Fourier-transformed feature maps (SPEC §3).

The convention follows naver-ai/cl-vs-mim and "How Do Vision Transformers Work?" (Park & Kim), so numbers are
comparable with the paper's figure:

1. patch tokens (CLS dropped) → feature maps (B, C, g, g);
2. log(|FFT2| + eps) per map (unnormalised FFT), centre-shifted so DC sits at index (g//2, g//2);
3. mean over batch and channels → one (g, g) log-amplitude spectrum;
4. diagonal profile: spectrum[g//2 + k, g//2 + k] for k = 0 … ⌈g/2⌉ − 1, i.e. the frequencies (k/g, k/g) cycles
   per token, 2πk/g rad per token along each axis; minus the DC value (k = 0), so the profile starts at 0;
5. ΔLog amplitude = the last profile value: the *highest diagonal frequency* is k_max = ⌈g/2⌉ − 1 per axis
   (5π/6 for g = 12, 6π/7 for g = 14).

For even g the Nyquist frequency (k = g/2, π per axis, the checkerboard (−1)^(i+j)) lies on the other side of
the shifted spectrum (index 0) and is NOT part of the reference profile, so a pure checkerboard is invisible to
it. ``include_nyquist=True`` appends that value as a final profile point (frequency π), which then becomes the
highest diagonal frequency; the default keeps the reference convention.

``eps`` (default 1e-6, the reference's value) is added to the amplitude before the log so that exactly zero
amplitudes give log(eps) ≈ −13.8 instead of −inf.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch

from kamim_lib._validation import check_positive
from kamim_lib.analysis._layers import layer_list
from kamim_lib.analysis.tokens import floating, grid_side, patch_tokens

DEFAULT_EPS = 1e-6


class FourierProfile(NamedTuple):
    """Diagonal Fourier profile of one layer.

    Attributes:
        frequencies: float (n,), diagonal frequency per axis in units of π rad per token (0, 2/g, 4/g, …).
        relative_log_amplitude: float (n,), mean log amplitude minus its DC value (first entry 0).
        delta_log_amplitude: float scalar tensor, the last entry: highest diagonal frequency minus DC.
    """

    frequencies: torch.Tensor
    relative_log_amplitude: torch.Tensor
    delta_log_amplitude: torch.Tensor


class FourierAnalysis(NamedTuple):
    """Diagonal Fourier profiles of several layers.

    Attributes:
        delta_log_amplitude: float (L,), ΔLog amplitude per layer.
        profiles: L tensors (n_l,), relative log amplitude per diagonal frequency (n_l may differ between Swin
            stages).
        frequencies: L tensors (n_l,), matching frequencies in units of π.
    """

    delta_log_amplitude: torch.Tensor
    profiles: list[torch.Tensor]
    frequencies: list[torch.Tensor]


def feature_map(hidden_state: torch.Tensor, has_cls: bool | int = True) -> torch.Tensor:
    """Patch tokens as a channel-first feature map.

    Args:
        hidden_state: tokens (B, prefix + g², C), or an already spatial map (B, C, g, g) (``has_cls`` ignored).
        has_cls: True/False, or the number of leading prefix tokens.

    Returns:
        (B, C, g, g).
    """
    if isinstance(hidden_state, torch.Tensor) and hidden_state.ndim == 4:
        if hidden_state.shape[-1] != hidden_state.shape[-2]:
            raise ValueError(f"hidden_state feature map must be square (B, C, g, g), got {tuple(hidden_state.shape)}.")
        return hidden_state
    tokens = patch_tokens(hidden_state, has_cls)
    batch, num_tokens, channels = tokens.shape
    side = grid_side(num_tokens, "hidden_state")
    return tokens.transpose(1, 2).reshape(batch, channels, side, side)


def log_amplitude_spectrum(hidden_state: torch.Tensor, has_cls: bool | int = True,
                           eps: float = DEFAULT_EPS) -> torch.Tensor:
    """Centre-shifted log amplitude spectrum, averaged over batch and channels.

    Args:
        hidden_state: tokens (B, prefix + g², C) or a feature map (B, C, g, g).
        has_cls: True/False, or the number of leading prefix tokens.
        eps: added to |FFT2| before the log.

    Returns:
        float (g, g), DC at (g//2, g//2).
    """
    check_positive("eps", eps)
    maps = floating(feature_map(hidden_state, has_cls))
    log_amplitude = torch.log(torch.fft.fft2(maps).abs() + eps)
    return torch.fft.fftshift(log_amplitude, dim=(-2, -1)).mean(dim=(0, 1))


def fourier_diagonal_profile(hidden_state: torch.Tensor, has_cls: bool | int = True, eps: float = DEFAULT_EPS,
                             include_nyquist: bool = False) -> FourierProfile:
    """Relative log amplitude along the diagonal of one layer's spectrum (see the module docstring).

    Args:
        hidden_state: tokens (B, prefix + g², C) or a feature map (B, C, g, g).
        has_cls: True/False, or the number of leading prefix tokens.
        eps: added to |FFT2| before the log.
        include_nyquist: append the (π, π) Nyquist value for even g (off by default, as in the reference).

    Returns:
        A ``FourierProfile``; ``delta_log_amplitude`` is the value at the highest diagonal frequency minus DC.
    """
    spectrum = log_amplitude_spectrum(hidden_state, has_cls, eps)
    side = spectrum.shape[-1]
    centre = side // 2
    diagonal = torch.diagonal(spectrum)
    profile = diagonal[centre:]
    steps = torch.arange(profile.shape[0], device=spectrum.device, dtype=spectrum.dtype)
    frequencies = 2 * steps / side
    if include_nyquist and side % 2 == 0:
        profile = torch.cat((profile, diagonal[:1]))
        frequencies = torch.cat((frequencies, frequencies.new_ones(1)))
    relative = profile - profile[0]
    return FourierProfile(frequencies, relative, relative[-1])


def fourier_relative_log_amplitude(hidden_states: Sequence[torch.Tensor], has_cls: bool | int = True,
                                   eps: float = DEFAULT_EPS, include_nyquist: bool = False) -> FourierAnalysis:
    """ΔLog amplitude and diagonal profile of every layer (SPEC §3: embedding output, then each block).

    Args:
        hidden_states: one tensor per layer, tokens (B, prefix + g², C) or feature maps (B, C, g, g)
            (``EncoderIntermediates.hidden_states``).
        has_cls: True/False, or the number of leading prefix tokens.
        eps: added to |FFT2| before the log.
        include_nyquist: append the Nyquist value for even g (see the module docstring).

    Returns:
        A ``FourierAnalysis`` with ``delta_log_amplitude`` (L,) and the per-layer profiles for plotting.
    """
    profiles = [fourier_diagonal_profile(h, has_cls, eps, include_nyquist)
                for h in layer_list(hidden_states, "hidden_states")]
    return FourierAnalysis(
        delta_log_amplitude=torch.stack([p.delta_log_amplitude for p in profiles]),
        profiles=[p.relative_log_amplitude for p in profiles],
        frequencies=[p.frequencies for p in profiles],
    )
