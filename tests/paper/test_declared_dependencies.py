"""Every third-party module that the package imports comes from a dependency that pyproject.toml declares (base or
the `notebooks` extra, which runs every notebook and every `kamim` command), so `pip install ".[notebooks]"` runs
all of it. tensorboard (`tracking`) and torch_xla (`xla`) are imported only when asked for."""
import ast
import importlib.metadata
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
# Extras whose modules are imported only by an explicit choice (logger=tensorboard, device=xla).
OPTIONAL = {"tracking", "xla"}


def _imported_top_level_modules() -> dict[str, str]:
    """``{module: a file importing it}`` for every absolute import in kamim_lib and kamim_paper."""
    found = {}
    for package in ("kamim_lib", "kamim_paper"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {canonicalize_name(Requirement(text).name) for text in project["dependencies"]}
    optional = set()
    for extra, texts in project["optional-dependencies"].items():
        names = {canonicalize_name(Requirement(text).name) for text in texts}
        (optional if extra in OPTIONAL else required).update(names)
    return required - {"kamim"}, optional


def test_every_third_party_import_is_a_declared_dependency():
    required, optional = _declared()
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(_imported_top_level_modules().items()):
        if module in sys.stdlib_module_names or module in ("kamim_lib", "kamim_paper", "__future__"):
            continue
        owners = {canonicalize_name(name) for name in distributions.get(module, [])}
        if module == "torch_xla" or not owners:  # not installed in this environment: must be an optional extra
            owners = owners or {canonicalize_name(module)}
            if not owners & optional:
                missing.append(f"{module} ({where})")
        elif not owners & (required | optional):
            missing.append(f"{module} from {', '.join(sorted(owners))} ({where})")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)
