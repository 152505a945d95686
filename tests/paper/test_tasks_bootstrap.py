"""tasks.py: the bytecode-cache step (run with writing on, never a reason for the setup to fail) and `lab`."""
import importlib.util
import subprocess
from pathlib import Path

import pytest


def _tasks():
    spec = importlib.util.spec_from_file_location("tasks", Path(__file__).resolve().parents[2] / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("outcome", ["ok", "fails", "hangs"])
def test_the_cache_is_filled_with_bytecode_writing_on_and_a_failure_only_warns(monkeypatch, capsys, outcome):
    tasks = _tasks()
    calls = []

    def fake_run(cmd, *, cwd, env, timeout):
        calls.append((cmd, env))
        if outcome == "hangs":
            raise subprocess.TimeoutExpired(cmd, timeout)
        return subprocess.CompletedProcess(cmd, 0 if outcome == "ok" else 1)

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(tasks.subprocess, "run", fake_run)
    tasks.warm_bytecode_cache(Path("/venv/bin/python"))
    (cmd, env), = calls
    assert cmd == ["/venv/bin/python", "-m", "kamim_paper.runner.bytecode_warmup"]
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["PATH"]
    warned = "warning: filling the bytecode cache ended with" in capsys.readouterr().out
    assert warned == (outcome != "ok")


@pytest.mark.parametrize("display", [None, ":0"])
def test_lab_serves_the_notebooks_with_the_projects_kernel(monkeypatch, capsys, display):
    """`python3 tasks.py lab ARGS`: JupyterLab of .venv in notebooks/, ARGS passed on, no browser on a headless box."""
    tasks = _tasks()
    python = Path("/project/.venv/bin/python")
    calls = []
    monkeypatch.setattr(tasks, "ensure_environment", lambda name="main": python)
    monkeypatch.setattr(tasks, "_call", lambda cmd, env=None: calls.append((cmd, env)) or 0)
    monkeypatch.setattr(tasks.sys, "platform", "linux")
    monkeypatch.setattr(tasks.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display:
        monkeypatch.setenv("DISPLAY", display)
    else:
        monkeypatch.delenv("DISPLAY", raising=False)
    assert tasks.main(["lab", "--port", "8899"]) == 0
    (cmd, env), = calls
    assert cmd[:4] == [python, "-m", "jupyter", "lab"]
    assert f"--ServerApp.root_dir={tasks.ROOT / 'notebooks'}" in cmd
    assert cmd[-2:] == ["--port", "8899"]
    assert ("--no-browser" in cmd) == (display is None)
    assert env["JUPYTER_PREFER_ENV_PATH"] == "1"  # the venv's python3 kernel wins over a user-wide one
    assert "kernel python3 = /project/.venv/bin/python" in capsys.readouterr().out


def test_lab_keeps_a_browser_choice_of_the_caller(monkeypatch):
    tasks = _tasks()
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(tasks.sys, "platform", "linux")
    cmd, _ = tasks.lab_command(Path("/v/bin/python"), ["--no-browser"])
    assert cmd.count("--no-browser") == 1
    cmd, _ = tasks.lab_command(Path("/v/bin/python"), ["--browser=firefox"])
    assert "--no-browser" not in cmd


def test_lab_as_root_allows_it(monkeypatch):
    """JupyterLab refuses to start as root (containers, cloud VMs) unless told --allow-root."""
    tasks = _tasks()
    monkeypatch.setattr(tasks.os, "geteuid", lambda: 0)
    cmd, _ = tasks.lab_command(Path("/v/bin/python"), [])
    assert "--allow-root" in cmd
    monkeypatch.setattr(tasks.os, "geteuid", lambda: 1000)
    assert "--allow-root" not in tasks.lab_command(Path("/v/bin/python"), [])[0]
