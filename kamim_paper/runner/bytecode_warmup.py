"""Fill an environment's bytecode cache once, so that every later interpreter reads ``.pyc`` instead of compiling.

Why: on machines that set ``PYTHONDONTWRITEBYTECODE=1`` (CI images often do), an environment installed with
``pip --no-compile`` never gets a ``.pyc``, and every notebook kernel, CLI call and test subprocess compiles torch,
torchvision, scikit-learn, ... from source again: importing what a notebook needs took 15 s instead of 6 s on the
2-core machine, in each of the default run's 13 kernels. ``python3 tasks.py`` runs this module once per environment
build, with bytecode writing on; the flag then only stops new writes, and the cached files are read as usual.

What it imports: every module of this package, every module any file of it imports at any depth (lazy imports
inside functions included, found by parsing the sources), and what a notebook kernel itself loads. A module that is
not installed (e.g. torch_xla outside its environment) or fails to import is counted and skipped: the cache is an
optimisation, never a reason for a setup to fail.

    python -m kamim_paper.runner.bytecode_warmup       # prints what it imported and how long it took
"""
from __future__ import annotations

import ast
import importlib
import sys
import time
from pathlib import Path

# What the Jupyter kernel and the inline plots load before any notebook code runs.
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "matplotlib_inline.backend_inline",
                  "matplotlib.backends.backend_agg", "matplotlib.pyplot")


def package_modules(package_dir: Path, package: str) -> list[str]:
    """Dotted names of every module under ``package_dir`` (``__main__`` modules left out: importing runs them)."""
    names = set()
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if "__main__" not in parts:
            names.add(".".join((package, *parts)))
    return sorted(names)


def imported_module_names(source: str) -> set[str]:
    """Absolute module names that ``import`` / ``from ... import`` statements anywhere in ``source`` name.

    ``from a.b import c`` gives ``a.b`` (``c`` may be a name, not a module); relative imports are left out (they
    are modules of the package, imported anyway).
    """
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def modules_to_warm(package_dir: Path, package: str) -> list[str]:
    """The package's modules, then everything its sources import, then the kernel's modules (sorted, no repeats)."""
    own = package_modules(package_dir, package)
    imported = set()
    for path in sorted(package_dir.rglob("*.py")):
        try:
            imported |= imported_module_names(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
    third_party = sorted(imported - set(own) - {package})
    return own + [name for name in third_party + list(KERNEL_MODULES) if name not in own]


def warm(modules: list[str]) -> tuple[list[str], list[str]]:
    """Import each module with bytecode writing on.

    Returns:
        (imported, skipped): module names that imported, and ``"name (why)"`` for those that did not.
    """
    sys.dont_write_bytecode = False  # the environment variable only sets this flag; importlib reads it per write
    imported, skipped = [], []
    for name in modules:
        try:
            importlib.import_module(name)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001 - any failure (even SystemExit from a module) only skips it
            skipped.append(f"{name} ({type(error).__name__})")
        else:
            imported.append(name)
    return imported, skipped


# The packages whose imports are warmed: the library and the companion beside it (this file is
# kamim_paper/runner/bytecode_warmup.py, so parents[2] is the folder holding both).
PACKAGES = ("kamim_lib", "kamim_paper")


def main() -> int:
    source_root = Path(__file__).resolve().parents[2]
    start = time.monotonic()
    modules = []
    for package in PACKAGES:
        modules += [name for name in modules_to_warm(source_root / package, package) if name not in modules]
    imported, skipped = warm(modules)
    print(f"Bytecode cache filled: {len(imported)} modules imported in {time.monotonic() - start:.0f} s"
          + (f"; {len(skipped)} not importable here, skipped: {', '.join(skipped)}" if skipped else "") + ".",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
