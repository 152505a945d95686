"""tasks.py's bytecode-cache step: run with writing on, never a reason for the setup to fail."""
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
