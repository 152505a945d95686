#!/usr/bin/env python3
"""One entry point that sets everything up on a fresh machine with only Python 3.10+.

    python3 tasks.py main      # the project's main job (see README)
    python3 tasks.py test      # the whole test suite (the XLA tests included, in their own environment, set up
                               # in the background while the main tests run)

    python3 tasks.py lab       # JupyterLab on the project's environment, in notebooks/ (kernel python3 of .venv)

    python3 tasks.py test-main # only the tests of the main environment
    python3 tasks.py test-xla  # only the XLA tests (torch_xla on PJRT_DEVICE=CPU, several virtual devices)
    python3 tasks.py setup     # only create/update .venv

Each command creates (or updates) the virtual environment it needs and installs what it needs on first use, every
version fixed by the one lock, `requirements/lock.txt` (a constraints file; its header says how it is made):
`.venv/` gets this package with its test extras (which include the notebooks extra: papermill, JupyterLab, ...)
and the lock's torch/torchvision pair; `.venv-xla/` gets the torch/torchvision/torch_xla triple of
`requirements/xla-pair.txt` instead of the lock's torch family, and the lock's versions of everything else.
An install is skipped while `<venv>/.installed` matches the hash of the files that define it.
Extra arguments after the command are passed through (to pytest for `test`, to `kamim` for `main`, to
`jupyter lab` for `lab`, e.g. `python3 tasks.py lab --port 8899 --ip 0.0.0.0`).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import venv
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent
# The one lock (pip constraints) every environment installs from; README, docs/install.md and environment.yml too.
LOCK = "requirements/lock.txt"
# name -> (folder, the pins that replace the lock's torch family, or None). Editing pyproject.toml, the lock or the
# pins triggers a re-install.
ENVIRONMENTS = {"main": (ROOT / ".venv", None),
                "xla": (ROOT / ".venv-xla", "requirements/xla-pair.txt")}
# The CUDA libraries of the XLA pair's torch, installed first in groups (the file says why).
XLA_CUDA_GROUPS = "requirements/xla-cuda.txt"
# In each environment: the hash of the files that define it (_environment_hash), written when its install is complete.
INSTALLED_STAMP = ".installed"
# Free disk an environment needs while it installs (measured on Linux x86_64: .venv 5.4 GB; .venv-xla 7.8 GB plus
# pip's downloads of one group, at most 1.3 GB), with some room for the tests' outputs.
NEEDED_GB = {"main": 7.0, "xla": 10.0}
# The lock's lines that a different torch release replaces: torch's own family and the CUDA libraries it pins.
TORCH_FAMILY = re.compile(r"^(torch|torchvision|torchaudio|torch-xla|torch_xla|triton|nvidia-[\w.-]+|cuda-[\w.-]+)==",
                          re.IGNORECASE)
# The main job: every notebook of the paper on the CPU smoke profile (see README).
MAIN_JOB = ["reproduce", "--profile", "smoke"]


def _venv_bin(venv_dir: Path, name: str) -> Path:
    return venv_dir / ("Scripts" if os.name == "nt" else "bin") / name


def _environment_hash(pins: str | None) -> str:
    digest = hashlib.sha256(sys.version.encode())
    for name in ("pyproject.toml", "setup.py", LOCK, *([pins, XLA_CUDA_GROUPS] if pins else [])):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def lock_without_torch_family(lock_text: str) -> str:
    """The lock's constraints less torch, torchvision, torch_xla, triton and the CUDA libraries (for an environment
    that pins another torch release: .venv-xla)."""
    return "".join(line for line in lock_text.splitlines(keepends=True) if not TORCH_FAMILY.match(line.strip()))


def requirement_groups(text: str) -> list[list[str]]:
    """The requirement lines of ``text`` in groups: paragraphs separated by blank lines, comments left out."""
    groups, current = [], []
    for line in text.splitlines() + [""]:
        line = line.split("#", 1)[0].strip()
        if line:
            current.append(line)
        elif current:
            groups.append(current)
            current = []
    return groups


def install_commands(venv_dir: Path, python: Path, pins: str | None) -> list[list]:
    """The pip commands that install the project into ``venv_dir``, every version from the lock (see the module
    docstring); with ``pins``, that file's torch family instead of the lock's (written as ``<venv>/constraints.txt``),
    after the CUDA libraries of :data:`XLA_CUDA_GROUPS`, one group per command.
    """
    # --no-compile: no .pyc for every file of every package at install (torch alone has thousands);
    # warm_bytecode_cache compiles only what the project imports (measured: 97 s install + 24 s warm-up).
    # --no-cache-dir: no second copy of every downloaded wheel in ~/.cache (gigabytes for the CUDA libraries).
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile", "--no-cache-dir", "-q"]
    if pins is None:
        return [pip + ["-c", LOCK, "-e", ".[test]"]]
    constraints = venv_dir / "constraints.txt"
    cuda = [pip + ["-c", constraints, *group]
            for group in requirement_groups((ROOT / XLA_CUDA_GROUPS).read_text())]
    return cuda + [pip + ["-c", constraints, "-r", pins],
                   # the pins are passed again as a constraint so that no dependency can move torch off them
                   pip + ["-c", pins, "-c", constraints, "-e", ".[test]"]]


class SetupFailed(Exception):
    """A setup step failed; the message says which and what to do (printed without a traceback)."""


def check_free_disk(name: str, venv_dir: Path) -> None:
    """Refuse to start an install that cannot fit: a full disk in the middle of pip leaves a broken environment.

    Raises:
        SetupFailed: less free space than :data:`NEEDED_GB` where the environment goes.
    """
    free_gb = shutil.disk_usage(venv_dir.parent).free / 1e9
    if free_gb < NEEDED_GB[name]:
        others = [(other, _folder_gb(other)) for other, _ in ENVIRONMENTS.values()
                  if other != venv_dir and other.is_dir()]
        rebuilt = "".join(f" This project's `{other.name}` takes {size:.1f} GB (`rm -rf {other}` frees it; the next "
                          f"command that needs it rebuilds it)." for other, size in others)
        raise SetupFailed(f"{venv_dir.name} needs about {NEEDED_GB[name]:.0f} GB of free disk to install, and "
                          f"{venv_dir.parent} has {free_gb:.1f} GB free.{rebuilt} Free some space (for example "
                          f"remove old virtual environments, ~/.cache/pip or old outputs in /tmp) and run the same "
                          f"command again.")


def _folder_gb(folder: Path) -> float:
    """The size of the files under ``folder`` in GB (links not followed)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if not path.is_symlink() and path.is_file()) / 1e9


def _child_streams(out: TextIO) -> dict:
    """``subprocess.run`` arguments that send a child's stdout and stderr to ``out`` (nothing to pass when ``out``
    is this process's own stdout: the child inherits it, and its stderr stays apart as usual)."""
    return {} if out is sys.stdout else {"stdout": out, "stderr": subprocess.STDOUT}


def _run(cmd: list[str], out: TextIO) -> None:
    """Run a setup step, its output to ``out``; a failure becomes :class:`SetupFailed` naming the step (its own
    output is above)."""
    print("+", " ".join(str(c) for c in cmd), file=out, flush=True)
    status = subprocess.run([str(c) for c in cmd], cwd=ROOT, **_child_streams(out)).returncode
    if status != 0:
        raise SetupFailed(f"this setup step failed with exit status {status} (its output is above):\n  "
                          + " ".join(str(c) for c in cmd) + "\nFix what it reports (\"No space left on device\": "
                          "free disk space) and run the same command again: the environment is completed, not "
                          "rebuilt from scratch.")


def warm_bytecode_cache(python: Path, out: TextIO | None = None) -> None:
    """Write the .pyc files of everything the project imports, once (kamim_paper/runner/bytecode_warmup.py says why).

    Run with bytecode writing on even where PYTHONDONTWRITEBYTECODE is set: the files go into this project's own
    environment and source tree only. A failure only costs speed, so it is reported and the setup goes on.
    """
    out = out or sys.stdout
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    cmd = [str(python), "-m", "kamim_paper.runner.bytecode_warmup"]
    print("+", " ".join(cmd), file=out, flush=True)
    try:
        status = subprocess.run(cmd, cwd=ROOT, env=env, timeout=600, **_child_streams(out)).returncode
    except subprocess.TimeoutExpired:
        status = "a timeout (600 s)"
    if status != 0:
        print(f"warning: filling the bytecode cache ended with {status}; imports will compile on each start "
              "(slower, same results).", file=out, flush=True)


def is_up_to_date(name: str) -> bool:
    """Whether the named environment is installed from the current pyproject, lock and pins."""
    venv_dir, pins = ENVIRONMENTS[name]
    stamp = venv_dir / INSTALLED_STAMP
    return stamp.exists() and stamp.read_text().strip() == _environment_hash(pins)


def ensure_environment(name: str = "main", out: TextIO | None = None) -> Path:
    """Create the named virtual environment and install the project into it unless it is up to date.

    Args:
        name: a key of :data:`ENVIRONMENTS`.
        out: where the setup's lines (and its pip/warm-up output) go; this process's stdout by default.

    Returns:
        The environment's python executable.
    """
    out = out or sys.stdout
    if sys.version_info < (3, 10):
        sys.exit(f"kamim needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    venv_dir, pins = ENVIRONMENTS[name]
    python = _venv_bin(venv_dir, "python")
    if is_up_to_date(name):
        return python
    wanted = _environment_hash(pins)  # stamped once installed: what this install is made from
    start = time.monotonic()
    if not venv_dir.exists():  # a second try completes what is there: its files already take their space
        check_free_disk(name, venv_dir)
    if not python.exists():
        print(f"Creating virtual environment in {venv_dir} ...", file=out, flush=True)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    if pins is not None:
        (venv_dir / "constraints.txt").write_text(lock_without_torch_family((ROOT / LOCK).read_text()))
    for command in install_commands(venv_dir, python, pins):
        _run(command, out)
    _run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], out)
    warm_bytecode_cache(python, out)
    (venv_dir / INSTALLED_STAMP).write_text(wanted + "\n")
    print(f"Environment {venv_dir.name} ready in {time.monotonic() - start:.0f} s.", file=out, flush=True)
    return python


class BackgroundSetup:
    """:func:`ensure_environment` in a thread, its output held back until :meth:`result` prints it in one piece
    (so that it does not mix with what runs meanwhile).

    ``python3 tasks.py test`` sets up .venv-xla this way while .venv is set up and the main half runs: pip mostly
    unpacks on one core, and on the 2-core CI machine the two setups took about 130 s and 185 s one after the other.
    """

    def __init__(self, name: str):
        self.name = name
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8")
        self._python: Path | None = None
        self._failure: BaseException | None = None
        # daemon: Ctrl-C in the main thread ends the program (pip, in the same process group, gets the SIGINT too)
        self._thread = threading.Thread(target=self._work, name=f"setup-{name}", daemon=True)
        print(f"Setting up {ENVIRONMENTS[name][0].name} in the background (its output follows when it is needed).",
              flush=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            self._python = ensure_environment(self.name, self._log)
        except BaseException as failure:  # re-raised in the main thread by result()
            self._failure = failure

    def result(self) -> Path:
        """Wait for the setup, print its output, and return the environment's python (or raise its failure)."""
        self._thread.join()
        self._log.seek(0)
        sys.stdout.write(self._log.read())
        sys.stdout.flush()
        self._log.close()
        if self._failure is not None:
            raise self._failure
        return self._python


def set_up_beside(name: str) -> BackgroundSetup | None:
    """Start setting up environment ``name`` in the background while the main one is set up and used, if it is out
    of date and the disk holds the fresh environments' installs at once; otherwise None (it is set up later, when
    needed, checking the disk itself)."""
    if is_up_to_date(name):
        return None
    fresh = [each for each in ("main", name) if not ENVIRONMENTS[each][0].exists()]
    if shutil.disk_usage(ROOT).free / 1e9 < sum(NEEDED_GB[each] for each in fresh):
        return None
    return BackgroundSetup(name)


def _call(cmd: list, env: dict | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env).returncode


def run_xla_tests(extra: list[str], setup: BackgroundSetup | None = None) -> int:
    """The tests marked `xla`, in .venv-xla (set up by ``setup`` when given), with torch_xla on the CPU and 4
    virtual devices."""
    python = setup.result() if setup is not None else ensure_environment("xla")
    env = {**os.environ, "PJRT_DEVICE": "CPU", "CPU_NUM_DEVICES": "4"}
    return _call([python, "-m", "pytest", "-m", "xla", "-p", "no:cacheprovider", *extra], env)


def _has_display() -> bool:
    """Whether a browser can be opened here (False on a headless Linux box: no X11/Wayland display)."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def lab_command(python: Path, extra: list[str]) -> tuple[list, dict]:
    """``jupyter lab`` of the environment of ``python``, serving notebooks/, and the environment it runs in.

    The kernel ``python3`` is that environment's (ensure_environment installs its spec; JUPYTER_PREFER_ENV_PATH
    makes it win over a user-wide ``python3`` kernel of another Python). Without a display no browser is opened:
    JupyterLab prints the URL (with its token) to open. As root (containers, cloud VMs) ``--allow-root``, without
    which JupyterLab refuses to start.
    """
    cmd = [python, "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT / 'notebooks'}"]
    if not _has_display() and "--no-browser" not in extra and not any(a.startswith("--browser") for a in extra):
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        cmd.append("--allow-root")
    env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1"}
    return cmd + list(extra), env


def run_lab(extra: list[str]) -> int:
    python = ensure_environment("main")
    cmd, env = lab_command(python, extra)
    print(f"JupyterLab on {python.parent.parent} (kernel python3 = {python}), serving {ROOT / 'notebooks'}.\n"
          "Open the http://127.0.0.1:... URL it prints below (with its token); Run > Run All Cells runs a notebook "
          "with the smoke profile's defaults and writes to runs/notebooks/<profile>/. Ctrl-C twice stops it.",
          flush=True)
    try:
        return _call(cmd, env)
    except KeyboardInterrupt:
        return 130


def parallel_workers() -> list[str]:
    """pytest-xdist options for the main half: one worker per core, at most 4, whole test files per worker (their
    module fixtures stay shared). On the 2-core CI machine two workers took the companion's tests from about 11 to
    6 minutes (notebook kernels and single-threaded torch leave a core idle otherwise). The XLA half stays in one
    process: its tests share one SPMD worker."""
    workers = max(1, min(4, os.cpu_count() or 1))
    # --no-loadscope-reorder: hand files out in the order tests/conftest.py gives them (the minutes-long ones first)
    return ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"] if workers > 1 else []


def main(argv: list[str]) -> int:
    commands = ("main", "test", "test-main", "test-xla", "setup", "lab")
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    if command == "test-xla":
        return run_xla_tests(extra)
    if command == "lab":
        return run_lab(extra)
    xla_setup = set_up_beside("xla") if command == "test" else None
    python = ensure_environment("main")
    if command == "setup":
        return 0
    if command == "main":
        return _call([_venv_bin(python.parent.parent, "kamim"), *(extra or MAIN_JOB)])
    status = _call([python, "-m", "pytest", "-m", "not xla", *parallel_workers(), *extra])
    if command == "test" and status == 0:
        status = run_xla_tests(extra, xla_setup)
    elif xla_setup is not None:
        xla_setup.result()  # finish what was started: the next run finds it installed
    return status


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SetupFailed as failure:
        print(f"error: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
