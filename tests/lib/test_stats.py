"""kamim_lib.stats against hand-computed Student-t intervals."""
import math

import pytest

from kamim_lib.stats import mean_and_ci, paired_difference_ci


def test_known_answer_five_pairs():
    # differences 1, 2, 3, 4, 5: mean 3, sd sqrt(2.5), t_{0.975, 4} = 2.7764451051977987
    a = [11.0, 12.0, 13.0, 14.0, 15.0]
    b = [10.0, 10.0, 10.0, 10.0, 10.0]
    mean, low, high = paired_difference_ci(a, b)
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert mean == pytest.approx(3.0)
    assert low == pytest.approx(3.0 - half)
    assert high == pytest.approx(3.0 + half)
    assert (low, high) == pytest.approx((1.0367568385224, 4.9632431614776))


def test_two_pairs_and_other_confidence():
    # differences 0 and 2: mean 1, sd sqrt(2), n 2; t_{0.95, 1} = 6.313751514675041 (90 % interval)
    mean, low, high = paired_difference_ci([1.0, 3.0], [1.0, 1.0], confidence=0.90)
    half = 6.313751514675041 * math.sqrt(2) / math.sqrt(2)
    assert (mean, low, high) == pytest.approx((1.0, 1.0 - half, 1.0 + half))


def test_sign_is_a_minus_b_and_constant_difference_has_zero_width():
    assert paired_difference_ci([1, 2, 3], [2, 3, 4]) == pytest.approx((-1.0, -1.0, -1.0))


def test_mean_and_ci_is_the_one_sample_interval():
    mean, low, high = mean_and_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mean == pytest.approx(3.0)
    assert high - mean == pytest.approx(2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5))


@pytest.mark.parametrize("a, b, confidence, message", [
    ([1.0, 2.0], [1.0], 0.95, "one value per seed"),
    ([1.0], [1.0], 0.95, "at least 2 seeds"),
    ([1.0, float("nan")], [1.0, 2.0], 0.95, "finite"),
    ([1.0, 2.0], [1.0, 2.0], 1.0, "confidence"),
])
def test_bad_input_is_one_clear_error(a, b, confidence, message):
    with pytest.raises(ValueError, match=message):
        paired_difference_ci(a, b, confidence)
