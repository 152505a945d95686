"""Where the project's own files are (profiles, notebooks) and where `kamim reproduce` writes by default.

Two ways to have this package, one answer each:

- a source checkout (``git clone``; ``pip install -e .``; ``python3 tasks.py ...``): the repository's ``params/``
  and ``notebooks/``; `kamim reproduce` writes to the repository's ``results/<profile>/`` (the committed results);
- an installed wheel (``pip install .``, ``pip install git+https://...``): the copies of ``params/`` and
  ``notebooks/`` that the wheel ships inside the package (``kamim_paper/_bundled/``, mapped in setup.py); `kamim
  reproduce` writes to ``./results/<profile>/`` under the current directory (``--out-dir`` says otherwise).

This module imports nothing heavy: `kamim --help` builds its parser from it without importing torch.
"""
from __future__ import annotations

from pathlib import Path

# In a wheel, setup.py maps params/ and notebooks/ to these folders of the package.
BUNDLED = Path(__file__).resolve().parent / "_bundled"


def source_root() -> Path | None:
    """The repository this package is imported from, or None for an installed wheel.

    A checkout is recognised by ``pyproject.toml``, ``params/`` and ``notebooks/`` next to the package.
    """
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "params").is_dir() and (root / "notebooks").is_dir():
        return root
    return None


def project_root() -> Path:
    """The folder holding ``params/`` and ``notebooks/``: the checkout, else the wheel's bundled copies."""
    return source_root() or BUNDLED


def params_dir() -> Path:
    """The profiles (``params/*.yaml``) and training configurations (``params/train/``)."""
    return project_root() / "params"


def notebooks_dir() -> Path:
    """The section notebooks (``notebooks/*.ipynb``) and the setup cell's source."""
    return project_root() / "notebooks"


def list_profiles() -> list[str]:
    """Names of the profiles in :func:`params_dir`."""
    return sorted(path.stem for path in params_dir().glob("*.yaml"))


def default_results_root() -> Path:
    """Where `kamim reproduce` writes ``<profile>/`` without ``--out-dir``: the checkout's committed ``results/``;
    for an installed wheel ``./results`` under the current directory (never inside site-packages)."""
    root = source_root()
    return root / "results" if root is not None else Path.cwd() / "results"
