"""The experiment grid of notebook 11: masking strategy (and its mode) × weighting method × target × seed.

Every name comes from the registries (:mod:`kamim_lib.masking`, :mod:`kamim_lib.methods`) and the options'
declared choices, so a new strategy or mode appears here without an edit. An *arm* is a strategy with one of its
modes, written ``"attmask high"`` (or ``"random"`` for a strategy without modes).
"""
from __future__ import annotations

from typing import Sequence

from kamim_lib._validation import check_choice
from kamim_lib.masking import get_masking, list_masking_strategies
from kamim_lib.methods import get_method, list_methods
from kamim_lib.plugins import option_fields
from kamim_paper.experiments.runs import Variant


def masking_arms() -> tuple[str, ...]:
    """Every arm: ``"random"``, ``"attmask high"``, ``"attmask low"``, ..., in registry order."""
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
    check_choice("arm", arm, masking_arms())
    name, _, mode = arm.partition(" ")
    key = get_masking(name).mode_key
    return (f"masking={name}",) + ((f"{key}={mode}",) if mode else ())


def pixel_target_methods() -> tuple[str, ...]:
    """The methods with a ``target`` option (pixels | norm_pix): the weightings the grid crosses with the arms."""
    return tuple(name for name in list_methods() if "target" in option_fields(get_method(name).Options))


def masking_variants(arms: Sequence[str], methods: Sequence[str], targets: Sequence[str]) -> list[Variant]:
    """The grid, arm-major, labelled ``"<arm> | <method> | <target>"`` with fields ``{"arm", "method", "target"}``
    (the table columns); seed it with :func:`~kamim_paper.experiments.runs.seeded_variants`.

    The values are as :class:`~kamim_paper.sections.params.MaskingParams` checked them (distinct, each one of
    :func:`masking_arms`, :func:`pixel_target_methods` and the targets).
    """
    return [Variant(f"{arm} | {method} | {target}", (f"method={method}", *arm_overrides(arm), f"target={target}"),
                    {"arm": arm, "method": method, "target": target})
            for arm in arms for method in methods for target in targets]
