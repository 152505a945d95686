import os
import subprocess
import sys
import textwrap
from pathlib import Path

from kamim_paper.runner.bytecode_warmup import KERNEL_MODULES, imported_module_names, modules_to_warm


def _package(root: Path) -> Path:
    package = root / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("raise SystemExit('ran')\n")
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text(textwrap.dedent("""
        import json
        from email import message

        def lazy():
            import csv
            from pkg.sub import leaf
    """))
    (package / "broken.py").write_text("raise RuntimeError('fails on import')\n")
    return package


def test_imports_are_found_at_any_depth_and_relative_ones_are_left_out():
    source = "import a.b, c\nfrom d.e import f\nfrom . import g\ndef h():\n    import i\n    from j import k\n"
    assert imported_module_names(source) == {"a.b", "c", "d.e", "i", "j"}


def test_the_list_has_own_modules_lazy_imports_and_the_kernels_but_no_main(tmp_path):
    names = modules_to_warm(_package(tmp_path), "pkg")
    assert names[:4] == ["pkg", "pkg.broken", "pkg.sub", "pkg.sub.leaf"]
    assert {"json", "email", "csv"} <= set(names) and set(KERNEL_MODULES) <= set(names)
    assert "pkg.__main__" not in names and len(names) == len(set(names))


def test_bytecode_is_written_even_where_the_environment_forbids_it_and_failures_are_skipped(tmp_path):
    _package(tmp_path)
    script = ("from kamim_paper.runner.bytecode_warmup import warm\n"
              "imported, skipped = warm(['pkg.sub.leaf', 'pkg.broken', 'no_such_module_xyz'])\n"
              "print(imported, skipped)\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[2])])}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert "['pkg.sub.leaf'] ['pkg.broken (RuntimeError)', 'no_such_module_xyz (ModuleNotFoundError)']" \
        in result.stdout
    assert list((tmp_path / "pkg" / "sub" / "__pycache__").glob("leaf.*.pyc"))
