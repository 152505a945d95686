"""The one interval formatter and verdict builder of the results room: known answers."""
from kamim_paper.results.labels import display_label, method_label, reference_label
from kamim_paper.results.sentences import (a_is_better, contains_zero, difference, difference_verdict, interval,
                                           interval_sentence)


def test_interval_and_difference_known_answers():
    assert interval([-0.01234, 0.5], "+.3f") == "[-0.012, +0.500]"
    assert interval(None, "+.3f") == "single seed: no interval"
    assert difference(0.25, (0.1, 0.4), "+.2f") == "+0.25 [+0.10, +0.40]"
    assert difference(0.25, (0.1, 0.4), "+.2f", named=True) == "+0.25 (95 % CI [+0.10, +0.40])"
    assert difference(1.5, (1.0, 2.0), "+.1f", unit=" px") == "+1.5 px [+1.0, +2.0]"
    assert difference(0.25, None, "+.3f", one_seed=" (one seed)") == "+0.250 (one seed)"


def test_verdict_known_answers():
    assert contains_zero((-1, 1)) and contains_zero((0, 1)) and not contains_zero((0.1, 1))
    assert a_is_better(-0.5, (-1, -0.1), lower_is_better=True) is True
    assert a_is_better(-0.5, (-1, -0.1), lower_is_better=False) is False
    assert a_is_better(0.5, (0.1, 1), lower_is_better=False) is True
    assert a_is_better(0.0, (-1, 1), lower_is_better=True) is None


def test_sentences_known_answers():
    record = {"seeds": [0, 1], "paired_difference": {"metric": "top1", "a": "kamim", "b": "simmim", "mean": 1.5,
                                                     "ci95": [0.5, 2.5]}}
    assert difference_verdict(record) == ("kamim − simmim = +1.5 (95 % CI [+0.5, +2.5], 2 paired seeds): the interval "
                                          "excludes 0; kamim is better on top1 in this setting.")
    entry = {"mean": -0.1, "ci95": [-0.3, 0.1]}
    assert interval_sentence("a − b, L1", entry, 3, "+.1f", lambda better: "x", lower_is_better=True) == (
        "a − b, L1: -0.1 (95 % CI [-0.3, +0.1], 3 paired seeds): the interval contains 0, so this run cannot tell "
        "them apart.")


def test_labels_known_answers():
    assert display_label(None) == "n/a" and display_label(0.25) == "0.25" and display_label(8) == "8"
    assert method_label("kamim") == "KAMIM" and method_label("random init") == "random init"
    assert reference_label("attention kamim pixel", {"arm": "attention"}) == "random kamim pixel"
