"""The experiment grid of notebook 11: masking strategy (and its mode) × weighting method × target × seed.

Every name comes from the registries (:mod:`kamim_lib.masking`, :mod:`kamim_lib.methods`) and the options'
declared choices, so a new strategy or mode appears here without an edit. An *arm* is a strategy with one of its
modes, written ``"attmask high"`` (or ``"random"`` for a strategy without modes).
"""
from __future__ import annotations

from typing import Sequence

from kamim_lib._validation import check_choice
from kamim_lib.reproduce.experiments import Variant, _check_unique


def masking_arms() -> tuple[str, ...]:
    """Every arm: ``"random"``, ``"attmask high"``, ``"attmask low"``, ..., in registry order."""
    from kamim_lib.masking import get_masking, list_masking_strategies

    arms = []
    for name in list_masking_strategies():
        modes = get_masking(name).modes()
        arms += [f"{name} {mode}" for mode in modes] if modes else [name]
    return tuple(arms)


def arm_overrides(arm: str) -> tuple[str, ...]:
    """``"attmask high"`` -> ``("masking=attmask", "attmask_mode=high")``.

    Raises:
        ValueError: not an arm of :func:`masking_arms`.
    """
    from kamim_lib.masking import get_masking

    check_choice("arm", arm, masking_arms())
    name, _, mode = arm.partition(" ")
    key = get_masking(name).mode_key
    return (f"masking={name}",) + ((f"{key}={mode}",) if mode else ())


def masking_variants(arms: Sequence[str], methods: Sequence[str], targets: Sequence[str],
                     seeds: Sequence[int]) -> list[Variant]:
    """The grid, seed-major inside each (arm, method, target) cell, with labels ``"<arm> | <method> | <target> |
    seed <s>"`` and fields ``{"arm", "method", "target", "seed"}`` (the columns of the tables).

    Raises:
        ValueError: an unknown or repeated arm, method, target or seed, or an empty list.
    """
    from kamim_lib.methods import list_methods
    from kamim_lib.methods.simmim import TARGETS

    for name, values, allowed in (("arms", arms, masking_arms()), ("methods", methods, list_methods()),
                                  ("targets", targets, TARGETS)):
        _check_unique(name, values)
        for value in values:
            check_choice(name, value, allowed)
    _check_unique("seeds", seeds)
    variants = []
    for arm in arms:
        for method in methods:
            for target in targets:
                for seed in seeds:
                    overrides = (f"method={method}", *arm_overrides(arm), f"target={target}", f"seed={int(seed)}")
                    variants.append(Variant(f"{arm} | {method} | {target} | seed {int(seed)}", overrides,
                                            {"arm": arm, "method": method, "target": target, "seed": int(seed)}))
    return variants

