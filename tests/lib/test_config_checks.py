"""The key checks shared by the training configuration and the notebooks' parameters (kamim_lib.config.checks)."""
from dataclasses import dataclass

import pytest

from kamim_lib.config.checks import config_fields, range_problems, type_problems, with_origins
from kamim_lib.plugins.options import param

REGISTRY = ["alpha", "beta"]


@dataclass(frozen=True)
class _Keys:
    name: str = param("alpha", "a registry entry", choices=lambda: REGISTRY)
    names: list[str] = param(["alpha"], "registry entries", choices=("alpha", "beta"), distinct=True)
    ratio: float = param(0.5, "a share", minimum=0, exclusive_minimum=True, maximum=1, exclusive_maximum=True)
    sizes: list[int] = param([8], "sizes", minimum=1)
    layer: int | None = param(None, "a block or none", minimum=1)


def _problems(**values) -> list[str]:
    keys = _Keys(**values)
    return type_problems(keys) or range_problems(keys)


def test_valid_values_pass_and_are_stored_in_their_canonical_type():
    keys = _Keys(ratio=0.25, sizes=(8, 16))
    assert _problems(ratio=0.25, sizes=(8, 16)) == []
    assert type_problems(keys) == [] and keys.sizes == [8, 16]      # a tuple for list[int] becomes a list
    assert _problems(layer=None) == []                               # none passes the bounds of an optional key


@pytest.mark.parametrize("values, problem", [
    ({"name": "gamma"}, "name='gamma' is not allowed; choose one of alpha, beta"),
    ({"name": "alpah"}, "name='alpah' is not allowed; choose one of alpha, beta (did you mean 'alpha'?)"),
    ({"names": ["alpha", "gama"]}, "names: item='gama' is not allowed; choose one of alpha, beta"),
    ({"names": ["beta", "beta"]}, "names=['beta', 'beta'] lists beta more than once; give each value once"),
    ({"names": []}, "names=[] is empty; give at least one value"),
    ({"ratio": 0.0}, "ratio=0.0 must be > 0"),
    ({"ratio": 1.0}, "ratio=1.0 must be < 1"),
    ({"ratio": float("nan")}, "ratio=nan must be > 0"),
    ({"sizes": [8, 0]}, "sizes: item=0 must be >= 1"),
    ({"layer": 0}, "layer=0 must be >= 1"),
    ({"ratio": "half"}, "ratio: expected a number, got 'half' (type float)"),
    ({"names": "alpha"}, "names: expected a list of str, got 'alpha' (type list of str)"),
])
def test_each_broken_declaration_is_one_line_naming_the_key(values, problem):
    assert _problems(**values) == [problem]


def test_choices_given_as_a_callable_follow_a_registry_that_grows_after_import():
    assert _problems(name="gamma")
    REGISTRY.append("gamma")
    try:
        assert _problems(name="gamma") == []
    finally:
        REGISTRY.remove("gamma")


def test_a_problem_says_where_the_values_it_names_came_from():
    known = config_fields(_Keys)
    origins = {"ratio": "params/x.yaml, parameters", "sizes": "kamim reproduce --set"}
    assert with_origins("ratio=0.0 must be > 0", origins, known) == \
        "ratio=0.0 must be > 0 [from params/x.yaml, parameters]"
    assert with_origins("sizes: item=0 must be >= 1", origins, known) == \
        "sizes: item=0 must be >= 1 [from kamim reproduce --set]"
    assert with_origins("name='x' is not allowed", origins, known) == "name='x' is not allowed"
