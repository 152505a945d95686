"""Paired comparisons: the mean difference between two methods trained on the same seeds, with its interval.

Seeds are *paired*: seed s gives both methods the same initialisation, data order and masks, so the per-seed
difference a_s − b_s removes the variation the two runs share, and its Student-t interval is what a comparison of
the two methods can claim.
"""
from __future__ import annotations

import math
from typing import Sequence


def paired_difference_ci(a: Sequence[float], b: Sequence[float],
                         confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``a − b`` over paired seeds and its two-sided Student-t confidence interval.

    Args:
        a, b: one number per seed, in the same seed order (e.g. KAMIM's and SimMIM's top-1 per seed).
        confidence: the interval's coverage, in (0, 1).

    Returns:
        ``(mean, low, high)``: the mean difference and the interval ``mean ± t_{n-1} · sd / √n`` (``sd`` the sample
        standard deviation of the differences, n − 1 in the denominator). All three equal the mean when the
        differences do not vary.

    Raises:
        ValueError: lengths differ, fewer than 2 pairs, a non-finite value, or a confidence outside (0, 1).
    """
    from scipy.stats import t as student_t

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
    if len(a) != len(b):
        raise ValueError(f"a and b must hold one value per seed each, got {len(a)} and {len(b)} values.")
    if len(a) < 2:
        raise ValueError(f"a paired interval needs at least 2 seeds, got {len(a)}.")
    differences = [float(x) - float(y) for x, y in zip(a, b)]
    if not all(math.isfinite(value) for value in differences):
        raise ValueError(f"a and b must be finite numbers, got differences {differences}.")
    n = len(differences)
    mean = sum(differences) / n
    sd = math.sqrt(sum((value - mean) ** 2 for value in differences) / (n - 1))
    half_width = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half_width, mean + half_width


def mean_and_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its Student-t interval (the one-sample case of :func:`paired_difference_ci`)."""
    return paired_difference_ci(values, [0.0] * len(values), confidence)
