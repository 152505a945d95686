"""The notebooks' setup cell (notebooks/setup_cell.py, kamim_paper/runner/colab.py) and device="auto".

The last test runs the cell on a stand-in Colab TPU runtime (marked `xla`: CI's XLA half, in .venv-xla with
PJRT_DEVICE=CPU): a fresh virtual environment that sees .venv-xla's packages (torch 2.9.0, torch_xla 2.9.0,
torchvision 0.24.0: the runtime's preinstalled stack) but not this project, a local git repository standing for
GitHub, and a fake ``google.colab`` module.
"""
import json
import os
import re
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

from kamim_paper.runner import colab
from kamim_paper.runner.notebook_cells import setup_cell_source

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (".gitignore", "pyproject.toml", "setup.py", "README.md", "kamim_lib", "kamim_paper", "params", "notebooks",
           "requirements")


def _pyproject_version() -> str:
    return re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)


def _pair(name: str) -> dict[str, str]:
    lines = (ROOT / "requirements" / name).read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_the_cells_default_ref_is_the_release_tag_of_the_declared_version():
    """Default KAMIM_REF: the tag `v<version>` of pyproject.toml (a release's notebooks check out that release)."""
    assert f'os.environ.get("KAMIM_REF", "v{_pyproject_version()}")' in setup_cell_source()
    from kamim_lib import __version__

    assert __version__ == _pyproject_version()


def test_outside_colab_the_cell_only_says_which_device_auto_uses(capsys):
    namespace = {}
    exec(compile(setup_cell_source(), "setup_cell", "exec"), namespace)
    out = capsys.readouterr().out
    assert "device='auto' resolves to cpu" in out and "torch " in out
    assert "_dir" not in namespace  # nothing of the Colab branch ran


@pytest.mark.parametrize("pair", ["torch-pair.txt", "xla-pair.txt"])
def test_the_matching_torchvision_rule_agrees_with_the_pinned_pairs(pair):
    pins = _pair(pair)
    assert colab.matching_torchvision(pins["torch"]) == pins["torchvision"]


def test_constraints_keep_every_installed_torch_package_and_add_the_matching_torchvision():
    lines, indexes = colab.runtime_constraints({"torch": "2.9.0", "torchvision": None, "torchaudio": None,
                                                "torch_xla": "2.9.0", "libtpu": "0.0.21"})
    assert lines == ["torch==2.9.0", "torch_xla==2.9.0", "libtpu==0.0.21", "torchvision==0.24.0"] and indexes == []
    lines, indexes = colab.runtime_constraints({"torch": "2.9.0+cpu", "torchvision": None})
    assert lines == ["torch==2.9.0+cpu", "torchvision==0.24.0+cpu"]
    assert indexes == ["https://download.pytorch.org/whl/cpu"]
    lines, _ = colab.runtime_constraints({"torch": "2.8.0+cu126", "torchvision": "0.23.0+cu126"})
    assert lines == ["torch==2.8.0+cu126", "torchvision==0.23.0+cu126"]
    assert colab.runtime_constraints({"torch": None, "torchvision": None}) == ([], [])


def test_the_install_is_editable_with_the_constraints(tmp_path):
    command = colab.install_command("/content/kamim", tmp_path / "c.txt", ["https://x/whl/cpu"], python="/py")
    assert command[:3] == ["/py", "-m", "pip"] and command[command.index("-c") + 1] == str(tmp_path / "c.txt")
    assert command[-2:] == ["-e", "/content/kamim[notebooks]"] and "--extra-index-url" in command


def test_auto_means_xla_only_with_torch_xla_and_a_pjrt_device(monkeypatch, tmp_path):
    from kamim_lib.runtime import detect, factory

    found = {"torch_xla": True}
    monkeypatch.setattr(detect.importlib.util, "find_spec",
                        lambda name: object() if found.get(name) else None)
    no_dev = tmp_path / "dev"
    no_dev.mkdir()
    assert detect.xla_configured({"PJRT_DEVICE": "CPU"}, no_dev)  # CI's stand-in TPU runtime
    assert detect.xla_configured({"TPU_ACCELERATOR_TYPE": "v2-8"}, no_dev)  # a Colab / Cloud TPU VM
    assert not detect.xla_configured({}, no_dev)  # torch_xla on a machine without a TPU
    (no_dev / "accel0").touch()
    assert detect.tpu_attached({}, no_dev) and detect.xla_configured({}, no_dev)
    found["torch_xla"] = False
    assert not detect.xla_configured({"PJRT_DEVICE": "TPU"}, no_dev)  # nothing to run it with

    monkeypatch.setattr(factory, "xla_configured", lambda: True)
    monkeypatch.setattr(factory.torch.cuda, "is_available", lambda: False)
    assert factory.resolve_device_type("auto") == "xla"
    assert factory.resolve_device_type("auto", allow_xla=False) == "cpu"  # the analyses
    assert factory.resolve_device_type("cpu") == "cpu"
    monkeypatch.setattr(factory, "xla_configured", lambda: False)
    monkeypatch.setattr(factory.torch.cuda, "is_available", lambda: True)
    assert factory.resolve_device_type("auto") == "cuda"


def test_the_analyses_never_resolve_auto_to_xla(monkeypatch):
    from kamim_lib.runtime import factory
    from kamim_paper.experiments.analysis_models import resolve_analysis_device

    monkeypatch.setattr(factory, "xla_configured", lambda: True)
    monkeypatch.setattr(factory.torch.cuda, "is_available", lambda: False)
    assert resolve_analysis_device("auto").type == "cpu"


# --- the stand-in TPU runtime -----------------------------------------------------------------------------------


def _git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=kamim-test", "-c", "user.email=test@kamim.invalid", *args], cwd=cwd,
                   check=True, capture_output=True)


def _project_repository(path: Path) -> str:
    """A git repository of the project's current sources (standing for GitHub), tagged v<version>; its commit."""
    path.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, path / name)
    _git("init", "-q", cwd=path)
    _git("add", "-A", cwd=path)
    _git("commit", "-q", "-m", "release", cwd=path)
    _git("tag", f"v{_pyproject_version()}", cwd=path)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True).stdout.strip()


def _stand_in_runtime(path: Path) -> Path:
    """A venv whose Python also sees this environment's packages (a plain path in a .pth file: this environment's
    own .pth files, among them the editable install of this checkout, are not processed). Returns its python."""
    venv.EnvBuilder(with_pip=True).create(path)
    python = path / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "runtime-preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


VERSIONS = ("import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n in "
            "('torch', 'torch_xla', 'torchvision')}))")


def _run(python: Path, code: str, env: dict, cwd: Path) -> str:
    result = subprocess.run([str(python), "-c", code], env=env, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.mark.xla
@pytest.mark.slow
def test_the_setup_cell_on_a_stand_in_tpu_runtime_keeps_its_torch_stack_and_resolves_auto_to_xla(tmp_path):
    pytest.importorskip("torch_xla")
    commit = _project_repository(tmp_path / "github")
    python = _stand_in_runtime(tmp_path / "runtime")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "KAMIM_REF")}
    env.update({"PJRT_DEVICE": "CPU", "KAMIM_REPO": str(tmp_path / "github"), "KAMIM_DIR": str(tmp_path / "kamim")})
    work = tmp_path / "content"
    work.mkdir()
    before = json.loads(_run(python, VERSIONS, env, work))
    assert before["torch"].startswith("2.9") and before["torch_xla"].startswith("2.9")
    probe = "import importlib.util; print(importlib.util.find_spec('kamim_lib') is None)"
    assert _run(python, probe, env, work).strip() == "True"  # the runtime does not have the project yet

    cell = ("import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
            + setup_cell_source())
    first = _run(python, cell, env, work)
    assert "Installing kamim" in first
    assert "device='auto' resolves to xla (PJRT_DEVICE=CPU)" in first
    assert json.loads(_run(python, VERSIONS, env, work)) == before
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path / "kamim", capture_output=True, text=True)
    assert head.stdout.strip() == commit  # the release tag v<version>
    assert not subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path / "kamim", capture_output=True,
                              text=True).stdout  # the install left the checkout clean

    # Run again, now at an explicit commit: the clone is reused, the install skipped.
    again = _run(python, cell, {**env, "KAMIM_REF": commit}, work)
    assert "is installed already" in again and "resolves to xla" in again
    assert json.loads(_run(python, VERSIONS, env, work)) == before

    # In a fresh process (as after a runtime restart) the installed project trains on the XLA device.
    device = _run(python, "from kamim_lib.runtime import create_runtime; print(create_runtime('auto', 'fp32').device)",
                  env, work)
    assert device.strip().startswith("xla")
