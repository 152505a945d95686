"""The results room's labels: how a variant, method or model label is shown (:func:`display_label`, the one helper
every table and sentence uses), and which labels a result compares.
"""
from __future__ import annotations

from typing import Mapping

from kamim_paper.results.tables.markdown import NOT_AVAILABLE

# How the analysis tables and sentences name the two methods.
METHOD_NAMES = {"simmim": "SimMIM", "kamim": "KAMIM"}
# The masking arm every other arm is compared with (notebook 11).
REFERENCE_ARM = "random"


def display_label(value, names: Mapping[str, str] | None = None) -> str:
    """A label as shown: ``8`` -> "8", ``0.25`` -> "0.25", None -> "n/a" (not applicable), and a label that ``names``
    renames (e.g. :data:`METHOD_NAMES`: "kamim" -> "KAMIM") by its name there."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if names is None else names.get(value, str(value))


def model_labels(summary) -> list[str]:
    """The labels of the models an analysis summary (or section result) holds, in its order (the random init
    last)."""
    return list(summary["models"])


def reference_label(label: str, fields: dict) -> str:
    """The label of the masking cell that ``label`` is compared with: the random arm, same method and target."""
    return label.replace(fields["arm"], REFERENCE_ARM, 1)


def method_label(label: str) -> str:
    """:func:`display_label` with :data:`METHOD_NAMES`: how the analysis tables, figures and sentences name a model."""
    return display_label(label, METHOD_NAMES)
