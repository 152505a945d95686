"""Known answers of the linear-probe section's generated conclusions (kamim_paper.sections.linprobe)."""
import pytest

from kamim_paper.evidence.records import evidence_record
from kamim_paper.sections import linprobe


@pytest.mark.parametrize("mean, expected", [
    (30.0, "above the raw-pixel baseline (20.0 %), above the random-init encoder (25.0 %)"),
    (22.0, "above the raw-pixel baseline (20.0 %), below the random-init encoder (25.0 %)"),
    (20.0, "below the raw-pixel baseline (20.0 %), below the random-init encoder (25.0 %)"),  # equal is not above
    (10.0, "below the raw-pixel baseline (20.0 %), below the random-init encoder (25.0 %)"),
])
def test_baseline_sentence_places_a_method_strictly_above_or_below_each_baseline(mean, expected):
    assert linprobe.baseline_sentence("kamim", mean, raw=20.0, random_init=25.0) == \
        f"kamim: {mean:.1f} % top-1; {expected}."


def test_conclusion_lines_one_per_method_then_the_paired_verdict():
    record = evidence_record("top1", [0, 1, 2], {"simmim": [10.0, 11.0, 12.0], "kamim": [20.0, 22.0, 24.0]},
                             {"raw_pixels": 15.0, "random_init": 21.0})
    lines = linprobe.conclusion_lines(record)
    assert lines[0] == ("simmim: 11.0 % top-1; below the raw-pixel baseline (15.0 %), below the random-init encoder "
                        "(21.0 %).")
    assert lines[1] == ("kamim: 22.0 % top-1; above the raw-pixel baseline (15.0 %), above the random-init encoder "
                        "(21.0 %).")
    # kamim − simmim = +11 with a tight interval: higher top-1 is better, so kamim wins.
    assert lines[2].startswith("kamim − simmim = +11") and lines[2].endswith("kamim is better on top1 in this "
                                                                             "setting.")
    assert len(lines) == 3
