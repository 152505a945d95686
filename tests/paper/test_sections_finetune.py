"""Known answers of the fine-tuning section's generated conclusions (kamim_paper.sections.finetune)."""
import pytest

from kamim_paper.evidence.records import evidence_record
from kamim_paper.sections import finetune


@pytest.mark.parametrize("low, high, expected", [
    (51.0, 55.0, "helps"),                       # the whole interval above scratch
    (50.0, 55.0, "makes no clear difference"),   # touching scratch is not above it
    (45.0, 55.0, "makes no clear difference"),
    (45.0, 50.0, "makes no clear difference"),   # touching scratch is not below it
    (40.0, 49.0, "hurts"),                       # the whole interval below scratch
])
def test_pretraining_verdict_needs_the_whole_interval_on_one_side_of_scratch(low, high, expected):
    assert finetune.pretraining_verdict(low, high, scratch_mean=50.0) == expected


def test_conclusion_lines_one_per_method_then_the_paired_verdict():
    record = evidence_record("top1", [0, 1, 2], {"simmim": [40.0, 41.0, 42.0], "kamim": [60.0, 61.0, 62.0]},
                             {"scratch": 50.0})
    lines = finetune.conclusion_lines(record)
    assert lines[0] == "simmim: 41.0 % top-1 vs 50.0 % from scratch: pretraining hurts at this budget."
    assert lines[1] == "kamim: 61.0 % top-1 vs 50.0 % from scratch: pretraining helps at this budget."
    assert lines[2].endswith("kamim is better on top1 in this setting.") and len(lines) == 3


def test_accuracy_bars_are_means_over_seeds():
    results = [{"label": label, "fields": {"seed": seed}, "evaluation": {"top1": top1, "top5": top1 + 10}}
               for label, seed, top1 in [("simmim", 0, 10.0), ("simmim", 1, 20.0), ("scratch", 0, 1.0),
                                         ("scratch", 1, 3.0)]]
    assert finetune.accuracy_bars(results, [0, 1]) == {
        "simmim": {"top-1 (mean)": 15.0, "top-5 (mean)": 25.0},
        "scratch": {"top-1 (mean)": 2.0, "top-5 (mean)": 12.0}}
