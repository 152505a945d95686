"""tasks.py: the bytecode-cache step (run with writing on, never a reason for the setup to fail) and `lab`."""
import importlib.util
import subprocess
import sys
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

    def fake_run(cmd, *, cwd, env, timeout, stdout=None, stderr=None):
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


def test_a_fresh_environment_is_not_started_without_the_disk_it_needs(monkeypatch, tmp_path):
    tasks = _tasks()
    monkeypatch.setattr(tasks.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 3.2e9})())
    with pytest.raises(tasks.SetupFailed, match=r".venv-xla needs about 10 GB of free disk .* has 3.2 GB free"):
        tasks.check_free_disk("xla", tmp_path / ".venv-xla")
    monkeypatch.setattr(tasks.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 50e9})())
    tasks.check_free_disk("xla", tmp_path / ".venv-xla")


def test_short_disk_names_the_other_environment_that_would_make_room(monkeypatch, tmp_path):
    """Both environments hold a CUDA build of torch; where the disk holds only one, removing the other is the fix."""
    tasks = _tasks()
    main_venv = tmp_path / ".venv"
    (main_venv / "lib").mkdir(parents=True)
    (main_venv / "lib" / "torch.so").write_bytes(b"x" * 2_500_000)
    monkeypatch.setattr(tasks, "ENVIRONMENTS", {"main": (main_venv, None), "xla": (tmp_path / ".venv-xla", "p")})
    monkeypatch.setattr(tasks.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 4.1e9})())
    expected = r"has 4.1 GB free\. This project's `.venv` takes 0.0 GB \(`rm -rf .*\.venv` frees it"
    with pytest.raises(tasks.SetupFailed, match=expected):
        tasks.check_free_disk("xla", tmp_path / ".venv-xla")
    assert tasks._folder_gb(main_venv) == pytest.approx(0.0025)


def test_a_failed_setup_step_is_one_message_without_a_traceback(tmp_path):
    """The real script in a copy of the project without .venv, with a pip step that fails: exit status 1, the step
    named with what to do, no traceback (nothing is installed: pip, the venv builder and the disk probe are fakes)."""
    root = Path(__file__).resolve().parents[2]
    for name in ("tasks.py", "pyproject.toml", "setup.py", "requirements/lock.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((root / name).read_text())
    script = ("import runpy, shutil, subprocess, sys, venv\n"
              "sys.argv = ['tasks.py', 'setup']\n"
              "subprocess.run = lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1)\n"
              "shutil.disk_usage = lambda path: type('Usage', (), {'free': 1e12})()\n"
              "venv.EnvBuilder.create = lambda self, folder: None\n"
              f"runpy.run_path({str(tmp_path / 'tasks.py')!r}, run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert result.returncode == 1, result.stderr
    assert "error: this setup step failed with exit status 1" in result.stderr
    assert "run the same command again" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / ".venv" / ".installed").exists()


def test_a_background_setup_prints_its_output_in_one_piece_when_waited_for(monkeypatch, capsys):
    """`tasks.py test` sets .venv-xla up while the main half runs: its lines must not mix with the tests' output."""
    tasks = _tasks()
    started = tasks.threading.Event()

    def fake_setup(name, out=None):
        print(f"+ pip install into {name}", file=out, flush=True)
        started.set()
        return Path(f"/{name}/bin/python")

    monkeypatch.setattr(tasks, "ensure_environment", fake_setup)
    setup = tasks.BackgroundSetup("xla")
    assert started.wait(10)
    print("main half output")
    assert capsys.readouterr().out == ("Setting up .venv-xla in the background (its output follows when it is "
                                       "needed).\nmain half output\n")
    assert setup.result() == Path("/xla/bin/python")
    assert capsys.readouterr().out == "+ pip install into xla\n"


def test_a_background_setups_failure_is_raised_where_it_is_waited_for(monkeypatch):
    tasks = _tasks()

    def failing_setup(name, out=None):
        raise tasks.SetupFailed("this setup step failed with exit status 1")

    monkeypatch.setattr(tasks, "ensure_environment", failing_setup)
    with pytest.raises(tasks.SetupFailed, match="exit status 1"):
        tasks.BackgroundSetup("xla").result()


def test_the_xla_environment_is_set_up_beside_only_when_out_of_date_and_the_disk_holds_both(monkeypatch, tmp_path):
    tasks = _tasks()
    monkeypatch.setattr(tasks, "ENVIRONMENTS", {"main": (tmp_path / ".venv", None),
                                                "xla": (tmp_path / ".venv-xla", "p")})
    monkeypatch.setattr(tasks, "BackgroundSetup", lambda name: ("started", name))
    up_to_date = {"main": False, "xla": False}
    monkeypatch.setattr(tasks, "is_up_to_date", lambda name: up_to_date[name])
    free = {"bytes": 16e9}
    monkeypatch.setattr(tasks.shutil, "disk_usage", lambda path: type("Usage", (), {"free": free["bytes"]})())
    assert tasks.set_up_beside("xla") is None  # both fresh: 7 + 10 GB wanted at once
    (tmp_path / ".venv").mkdir()
    assert tasks.set_up_beside("xla") == ("started", "xla")  # .venv is there already: 10 GB is enough
    free["bytes"] = 9e9
    assert tasks.set_up_beside("xla") is None  # one after the other, each checking the disk itself
    up_to_date["xla"] = True
    free["bytes"] = 1e12
    assert tasks.set_up_beside("xla") is None


def test_the_test_command_runs_the_xla_half_on_the_environment_set_up_beside(monkeypatch):
    tasks = _tasks()
    events = []

    class FakeSetup:
        def result(self):
            events.append("xla setup waited for")
            return Path("/xla/bin/python")

    monkeypatch.setattr(tasks, "set_up_beside", lambda name: events.append(f"setup beside {name}") or FakeSetup())
    monkeypatch.setattr(tasks, "ensure_environment", lambda name="main", out=None: events.append(name) or
                        Path(f"/{name}/bin/python"))
    monkeypatch.setattr(tasks, "_call", lambda cmd, env=None: events.append(str(cmd[0])) or 0)
    assert tasks.main(["test"]) == 0
    assert events == ["setup beside xla", "main", "/main/bin/python", "xla setup waited for", "/xla/bin/python"]


def test_a_setup_step_for_a_background_setup_writes_its_command_and_both_streams_to_its_log(tmp_path):
    tasks = _tasks()
    child = "import sys; print('unpacked', flush=True); print('warned', file=sys.stderr, flush=True)"
    with open(tmp_path / "log", "w+", encoding="utf-8") as log:
        tasks._run([sys.executable, "-c", child], log)
        with pytest.raises(tasks.SetupFailed, match="exit status 3"):
            tasks._run([sys.executable, "-c", "raise SystemExit(3)"], log)
        log.seek(0)
        lines = log.read().splitlines()
    assert lines == [f"+ {sys.executable} -c {child}", "unpacked", "warned",
                     f"+ {sys.executable} -c raise SystemExit(3)"]


def test_an_environment_stamped_with_the_current_hash_is_not_installed_again(monkeypatch, tmp_path):
    tasks = _tasks()
    venv_dir = tmp_path / ".venv"
    venv_dir.mkdir()
    monkeypatch.setattr(tasks, "ENVIRONMENTS", {"main": (venv_dir, None)})
    monkeypatch.setattr(tasks, "_run", lambda cmd, out: pytest.fail(f"installed again: {cmd}"))
    (venv_dir / tasks.INSTALLED_STAMP).write_text(tasks._environment_hash(None) + "\n")
    assert tasks.is_up_to_date("main")
    assert tasks.ensure_environment("main") == tasks._venv_bin(venv_dir, "python")
    (venv_dir / tasks.INSTALLED_STAMP).write_text("hash of an older lock\n")
    assert not tasks.is_up_to_date("main")
