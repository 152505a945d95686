#!/usr/bin/env python3
"""One entry point that sets everything up on a fresh machine with only Python 3.10+.

    python3 tasks.py main      # the project's main job (see README)
    python3 tasks.py test      # the whole test suite (the XLA tests included, in their own environment)

    python3 tasks.py test-main # only the tests of the main environment
    python3 tasks.py test-xla  # only the XLA tests (torch_xla on PJRT_DEVICE=CPU, several virtual devices)

Each command creates (or updates) the virtual environment it needs and installs what it needs on first use:
`.venv/` gets the pinned torch/torchvision pair of `requirements/torch-pair.txt`, then this package with its test
extras; `.venv-xla/` gets the torch/torchvision/torch_xla triple of `requirements/xla-pair.txt` instead.
An install is skipped while `<venv>/.installed` matches the hash of the files that define it.
Extra arguments after the command are passed through (to pytest for `test`, to `kamim` for `main`).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# name -> (folder, requirements file installed before the package). Editing either file triggers a re-install.
ENVIRONMENTS = {"main": (ROOT / ".venv", "requirements/torch-pair.txt"),
                "xla": (ROOT / ".venv-xla", "requirements/xla-pair.txt")}
# The main job: every notebook of the paper on the CPU smoke profile (see README).
MAIN_JOB = ["reproduce", "--profile", "smoke"]


def _venv_bin(venv_dir: Path, name: str) -> Path:
    return venv_dir / ("Scripts" if os.name == "nt" else "bin") / name


def _environment_hash(requirements: str) -> str:
    digest = hashlib.sha256(sys.version.encode())
    for name in ("pyproject.toml", requirements):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _run(cmd: list[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def warm_bytecode_cache(python: Path) -> None:
    """Write the .pyc files of everything the project imports, once (kamim_paper/runner/bytecode_warmup.py says why).

    Run with bytecode writing on even where PYTHONDONTWRITEBYTECODE is set: the files go into this project's own
    environment and source tree only. A failure only costs speed, so it is reported and the setup goes on.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    cmd = [str(python), "-m", "kamim_paper.runner.bytecode_warmup"]
    print("+", " ".join(cmd), flush=True)
    try:
        status = subprocess.run(cmd, cwd=ROOT, env=env, timeout=600).returncode
    except subprocess.TimeoutExpired:
        status = "a timeout (600 s)"
    if status != 0:
        print(f"warning: filling the bytecode cache ended with {status}; imports will compile on each start "
              "(slower, same results).", flush=True)


def ensure_environment(name: str = "main") -> Path:
    """Create the named virtual environment and install the project into it unless it is up to date.

    Returns:
        The environment's python executable.
    """
    if sys.version_info < (3, 10):
        sys.exit(f"kamim needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    venv_dir, requirements = ENVIRONMENTS[name]
    python = _venv_bin(venv_dir, "python")
    stamp = venv_dir / ".installed"
    wanted = _environment_hash(requirements)
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return python
    start = time.monotonic()
    if not python.exists():
        print(f"Creating virtual environment in {venv_dir} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    # --no-compile: no .pyc for every file of every package at install (torch alone has thousands);
    # warm_bytecode_cache below compiles only what the project imports (measured: 97 s install + 24 s warm-up).
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile", "-q"]
    _run(pip + ["-r", requirements])
    # The pinned pair is passed again as a constraint so that no dependency can move torch off it.
    _run(pip + ["-c", requirements, "-e", ".[test]"])
    _run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"])
    warm_bytecode_cache(python)
    stamp.write_text(wanted + "\n")
    print(f"Environment {venv_dir.name} ready in {time.monotonic() - start:.0f} s.", flush=True)
    return python


def _call(cmd: list, env: dict | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env).returncode


def run_xla_tests(extra: list[str]) -> int:
    """The tests marked `xla`, in .venv-xla, with torch_xla on the CPU and 4 virtual devices."""
    python = ensure_environment("xla")
    env = {**os.environ, "PJRT_DEVICE": "CPU", "CPU_NUM_DEVICES": "4"}
    return _call([python, "-m", "pytest", "-m", "xla", "-p", "no:cacheprovider", *extra], env)


def main(argv: list[str]) -> int:
    commands = ("main", "test", "test-main", "test-xla", "setup")
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    if command == "test-xla":
        return run_xla_tests(extra)
    python = ensure_environment("main")
    if command == "setup":
        return 0
    if command == "main":
        return _call([_venv_bin(python.parent.parent, "kamim"), *(extra or MAIN_JOB)])
    status = _call([python, "-m", "pytest", "-m", "not xla", *extra])
    if command == "test" and status == 0:
        status = run_xla_tests(extra)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
