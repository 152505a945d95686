"""The list checks every experiment grid shares: one message for an empty, repeated or unknown entry, whichever
grid (variants, the masking grid, the peers' parameters) reports it."""
import re

import pytest

from kamim_lib._validation import check_choice_list, check_unique_list
from kamim_paper.runner.parameters import notebook_parameters
from kamim_paper.sections.params import (DetectorAblationParams, MaskingParams, PeersParams, PretrainParams,
                                         SweepParams, section_defaults)


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


@pytest.mark.parametrize("schema", [PretrainParams, MaskingParams, PeersParams])
def test_every_section_reports_a_repeated_method_alike(schema):
    """The grids trust their lists: each section's parameters are the one place a repeated entry is caught, with
    one wording (kamim_lib.config.checks) whichever section it is."""
    with pytest.raises(ValueError, match=re.escape("methods=['simmim', 'simmim'] lists simmim more than once; give "
                                                   "each value once")):
        notebook_parameters({**section_defaults(schema), "methods": ["simmim", "simmim"]}, schema)


@pytest.mark.parametrize("name, value, message", [
    ("temperatures", [0.25, 0.0], "temperatures: item=0.0 must be > 0"),
    ("weight_patch_sizes", [8, 0], "weight_patch_sizes: item=0 must be >= 1"),
    ("weight_patch_sizes", [8.5], "weight_patch_sizes: expected an integer, got 8.5 (type list of int)"),
    ("seeds", [], "seeds=[] is empty; give at least one value"),
    ("detectors", ["fast"], None),
])
def test_the_sweep_values_are_checked_once_at_the_boundary(name, value, message):
    schema = SweepParams if name != "detectors" else DetectorAblationParams
    namespace = {**section_defaults(schema), "seeds": [0], name: value}
    if message is None:
        assert getattr(notebook_parameters(namespace, schema), name) == value
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        notebook_parameters(namespace, schema)
