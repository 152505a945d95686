"""Progress bars that leave clean output wherever they run.

``tqdm.auto`` picks the widget bar inside any Jupyter kernel; without ``ipywidgets`` (a headless papermill run)
that prints "IProgress not found" and falls back to a text bar whose carriage-return updates pile up as debris in
the saved notebook. :func:`progress_bar` instead chooses:

- an interactive Jupyter front end with ``ipywidgets``: the widget bar (``tqdm.notebook``);
- a Jupyter kernel without ``ipywidgets`` (the headless papermill runs of ``kamim reproduce``: the package's
  ``notebooks`` extra does not install it): no bar, the engine prints one plain line per epoch anyway;
- a terminal: the text bar (``tqdm.std``).

Third-party code (timm, huggingface_hub) imports ``tqdm.auto`` itself: :func:`notebook_safe_progress`, called at
the top of a notebook, makes that import pick the plain-text bar without the "IProgress not found" warning.
"""
from __future__ import annotations

import importlib.util
import sys
import warnings


def _in_jupyter_kernel() -> bool:
    """True inside an IPython kernel (Jupyter, Colab, papermill), False in a terminal or plain Python."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        instance = shell.get_ipython()
    except AttributeError:
        return False
    return instance is not None and "IPKernelApp" in getattr(instance, "config", {})


def _has_widgets() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


def bar_kind() -> str:
    """"widget", "none" or "text": the bar :func:`progress_bar` creates here."""
    if _in_jupyter_kernel():
        return "widget" if _has_widgets() else "none"
    return "text"


def progress_bar(*, total: int | None = None, disable: bool = False, **kwargs):
    """A tqdm bar suited to where the code runs (see the module docstring); the same arguments as ``tqdm``."""
    kind = bar_kind()
    if kind == "widget":
        from tqdm.notebook import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(total=total, disable=disable or kind == "none", **kwargs)


def progress_write(line: str) -> None:
    """Print one line without breaking an open text bar (``tqdm.write``); plain ``print`` when no bar is drawn."""
    if bar_kind() == "text":
        from tqdm.std import tqdm

        tqdm.write(line)
    else:
        print(line, flush=True)


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
