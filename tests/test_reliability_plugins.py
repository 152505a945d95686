"""Reliability, round 2 (issue 22): a broken KAMIM_PLUGINS entry (missing module, one that raises, one lacking a
dependency) is one line naming the module and its error, exit code 2; `kamim --help` works regardless."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def kamim(tmp_path, *arguments):
    (tmp_path / "raising_plugin.py").write_text('raise RuntimeError("plug-in boom")\n')
    (tmp_path / "needs_dependency.py").write_text("import not_installed_dependency\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
                   "KAMIM_PLUGINS": "no_such_module, raising_plugin,needs_dependency"}
    environment.pop("KAMIM_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "kamim_lib.cli", *arguments], capture_output=True, text=True,
                          timeout=300, env=environment, cwd=tmp_path)


def test_help_works_with_broken_plugins(tmp_path):
    result = kamim(tmp_path, "--help")
    assert result.returncode == 0 and "usage: kamim" in result.stdout and "Traceback" not in result.stderr


def test_a_command_reports_every_broken_plugin_in_one_line(tmp_path):
    result = kamim(tmp_path, "pretrain", "--set", "epochs=1", "--set", f"out_dir={tmp_path / 'runs'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    for expected in ("KAMIM_PLUGINS module 'no_such_module' cannot be imported (ModuleNotFoundError",
                     "'raising_plugin' cannot be imported (RuntimeError: plug-in boom)",
                     "'needs_dependency' cannot be imported (ModuleNotFoundError: No module named "
                     "'not_installed_dependency')", "remove it from KAMIM_PLUGINS"):
        assert expected in result.stderr
