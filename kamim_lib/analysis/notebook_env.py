"""Notebook-safe progress bars: no "IProgress not found" warning and no widget debris in executed notebooks.

``tqdm.auto`` (imported by timm / huggingface_hub, and by the training loop) picks ipywidgets bars inside a
Jupyter kernel; without ipywidgets it warns "IProgress not found" into the notebook and falls back to text bars.
Importing it once here with that warning silenced makes the fallback explicit: every later ``tqdm.auto`` import
gets the plain-text bar, which papermill records as ordinary output.
"""
from __future__ import annotations

import importlib.util
import warnings


def notebook_safe_progress() -> str:
    """Call before importing models or data in a notebook. Returns "widgets" when ipywidgets is installed (its
    bars are used), else "text" (plain-text tqdm bars, no warning)."""
    if importlib.util.find_spec("ipywidgets") is not None:
        return "widgets"
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=TqdmWarning)
        import tqdm.auto  # noqa: F401 - cached in sys.modules with the text bar
    return "text"
