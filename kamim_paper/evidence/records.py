"""The ``evidence`` record of a section summary: per-seed values of each method, the baselines, and the paired
KAMIM − SimMIM difference with its 95 % Student-t interval.

The form is stable so others can check it::

    {"seeds": [0, 1, 2, 3, 4],
     "<metric>": {"simmim": [per seed], "kamim": [per seed]},
     "baselines": {"image_blind": x, "random_init": y},          # or raw_pixels / random_init / scratch
     "paired_difference": {"metric": "<metric>", "a": "kamim", "b": "simmim", "mean": m, "ci95": [lo, hi]}}
"""
from __future__ import annotations

from typing import Mapping, Sequence

from kamim_lib.stats import mean_and_ci, paired_difference_ci

COMPARED = ("kamim", "simmim")  # the paired difference is COMPARED[0] − COMPARED[1]


def evidence_record(metric: str, seeds: Sequence[int], values: Mapping[str, Sequence[float]],
                    baselines: Mapping[str, float], *, a: str = COMPARED[0], b: str = COMPARED[1]) -> dict:
    """Build the record (see the module docstring).

    Args:
        metric: the compared number, e.g. "val_masked_l1" or "top1".
        seeds: the paired seeds, in the order of every list in ``values``.
        values: method -> one value per seed.
        baselines: name -> value.
        a, b: the difference reported is ``a − b``.

    Raises:
        ValueError: a method's list does not have one value per seed, or ``a``/``b`` is missing.
    """
    seeds = [int(seed) for seed in seeds]
    for method, per_seed in values.items():
        if len(per_seed) != len(seeds):
            raise ValueError(f"{method}: {len(per_seed)} values for {len(seeds)} seeds {seeds}.")
    for method in (a, b):
        if method not in values:
            raise ValueError(f"values has no {method!r} entry (has {', '.join(values)}).")
    mean, low, high = paired_difference_ci(values[a], values[b])
    return {"seeds": seeds, metric: {method: [float(value) for value in per_seed]
                                     for method, per_seed in values.items()},
            "baselines": {name: float(value) for name, value in baselines.items()},
            "paired_difference": {"metric": metric, "a": a, "b": b, "mean": mean, "ci95": [low, high]}}


def method_intervals(record: dict) -> dict[str, tuple[float, float, float]]:
    """method -> (mean, low, high) over seeds (one-sample 95 % interval) of the record's metric."""
    metric = record["paired_difference"]["metric"]
    return {method: mean_and_ci(values) for method, values in record[metric].items()}

