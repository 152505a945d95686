"""The list checks every experiment grid shares: one message for an empty, repeated or unknown entry, whichever
grid (variants, the masking grid, the peers' parameters) reports it."""
import re

import pytest

from kamim_lib._validation import check_choice_list, check_unique_list
from kamim_paper.experiments import runs as experiments
from kamim_paper.experiments.masking_grid import masking_variants


@pytest.mark.parametrize("values, message", [
    ([], "methods must be a non-empty list, got []."),
    ("kamim", "methods must be a non-empty list, got 'kamim'."),
    (["kamim", "simmim", "kamim"], "methods lists kamim more than once; give each value once."),
    (["kamim", "mae"], "methods='mae' is not supported; choose one of 'simmim', 'kamim'."),
])
def test_check_choice_list_names_the_problem(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_choice_list("methods", values, ("simmim", "kamim"))


def test_check_unique_list_accepts_distinct_values_of_any_kind():
    check_unique_list("seeds", [0, 1, 2])
    check_unique_list("temperatures", (0.1, 0.2))
    with pytest.raises(ValueError, match=re.escape("seeds lists 1, 2 more than once")):
        check_unique_list("seeds", [2, 1, 2, 1])


@pytest.mark.parametrize("make_grid", [
    lambda: experiments.method_variants(["simmim", "simmim"]),
    lambda: masking_variants(["random"], ["simmim", "simmim"], ["pixels"]),
])
def test_every_grid_reports_a_repeated_method_alike(make_grid):
    with pytest.raises(ValueError, match=re.escape("methods lists simmim more than once; give each value once.")):
        make_grid()
