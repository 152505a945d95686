"""Reliability, round 2 (issue 22), as the `kamim` command reports it: a broken KAMIM_PLUGINS entry (missing module,
one that raises, one lacking a dependency) is one line naming the module and its error, exit code 2, and `kamim
--help` works regardless; out of memory is one line with exit code 2; KAMIM_DEBUG=0 means off; inspect-checkpoint
tells random bytes, empty files, directories, newer formats and pickles apart."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from kamim_lib.engine.out_of_memory import out_of_memory_error
from kamim_paper.cli.errors import EXIT_USAGE, run_reporting_errors
from kamim_paper.original.loader_report import original_loader_report

from engine_fixtures import tiny_config

ROOT = Path(__file__).resolve().parents[2]


def kamim(tmp_path, *arguments):
    (tmp_path / "raising_plugin.py").write_text('raise RuntimeError("plug-in boom")\n')
    (tmp_path / "needs_dependency.py").write_text("import not_installed_dependency\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
                   "KAMIM_PLUGINS": "no_such_module, raising_plugin,needs_dependency"}
    environment.pop("KAMIM_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "kamim_paper.cli", *arguments], capture_output=True, text=True,
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


def test_out_of_memory_is_one_line_and_exit_code_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KAMIM_DEBUG", raising=False)
    config = tiny_config(tmp_path, "pretrain")

    def training():
        error = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        raise out_of_memory_error(error, config, None) from error

    assert run_reporting_errors("pretrain", training) == EXIT_USAGE
    printed = capsys.readouterr().err
    assert printed.count("\n") == 1 and printed.startswith("kamim pretrain: error: out of GPU in pretrain of "
                                                           "model=vit_nano at batch_size=16")


@pytest.mark.parametrize("value, debugging", [("0", False), ("", False), ("off", False), ("false", False),
                                              ("1", True), ("yes", True)])
def test_kamim_debug_0_means_off(monkeypatch, capsys, value, debugging):
    monkeypatch.setenv("KAMIM_DEBUG", value)

    def bad_input():
        raise ValueError("lr=-1 must be > 0")

    if debugging:
        with pytest.raises(ValueError):
            run_reporting_errors("pretrain", bad_input)
    else:
        assert run_reporting_errors("pretrain", bad_input) == EXIT_USAGE
        assert capsys.readouterr().err == "kamim pretrain: error: lr=-1 must be > 0\n"


def newer_torch_file(path):
    """A torch.save file as a newer torch writes it (file-format version 99)."""
    torch.save({"weight": torch.zeros(2)}, path)
    original = zipfile.ZipFile(path)
    newer = path.with_suffix(".newer")
    with zipfile.ZipFile(newer, "w") as archive:
        for info in original.infolist():
            archive.writestr(info, b"99\n" if info.filename.endswith("/version") else original.read(info.filename))
    newer.replace(path)


@pytest.mark.parametrize("case, trust, expected", [
    ("random", False, r"not a file torch.save wrote \(it starts with bytes"),
    ("random", True, r"not a file torch.save wrote"),
    ("empty", False, r"is empty \(0 bytes"),
    ("directory", False, r"is a directory, .*pass a checkpoint file inside it, e.g. .*checkpoint-last.pt"),
    ("newer", False, r"written by a newer torch .*upgrade torch"),
    ("pickle", False, r"holds Python objects .*--trust-pickle"),
])
def test_inspect_checkpoint_tells_unreadable_files_apart(tmp_path, case, trust, expected):
    path = tmp_path / "model.pth"
    if case == "random":
        path.write_bytes(bytes(range(256)) * 4)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "directory":
        path = tmp_path
    elif case == "newer":
        newer_torch_file(path)
    else:
        torch.save({"weights": Path("a")}, path)
    with pytest.raises(ValueError, match=expected) as error:
        original_loader_report(path, "vit_nano", trust_pickle=trust)
    if case != "pickle":
        assert "trust-pickle" not in str(error.value)
