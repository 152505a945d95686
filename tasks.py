#!/usr/bin/env python3
"""One entry point that sets everything up on a fresh machine with only Python 3.10+.

    python3 tasks.py main      # the project's main job (see README)
    python3 tasks.py test      # the whole test suite

Each command creates (or updates) the virtual environment `.venv/` and installs what it needs on first use:
the pinned torch/torchvision pair of `requirements/torch-pair.txt`, then this package with its test extras.
The install is skipped while `.venv/.installed` matches the hash of the files that define it.
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
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
# Files whose content defines the environment: any change triggers a re-install.
DEFINING_FILES = ("pyproject.toml", "requirements/torch-pair.txt")
# What the main job runs until the notebooks take over: the keypoint-weighting figure of the paper's method.
MAIN_JOB = ["weights-demo"]


def _venv_bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def _environment_hash() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for name in DEFINING_FILES:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _run(cmd: list[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def ensure_environment() -> None:
    """Create `.venv` and install the project into it unless it is already up to date."""
    if sys.version_info < (3, 10):
        sys.exit(f"kamim needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    wanted = _environment_hash()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    start = time.monotonic()
    if not _venv_bin("python").exists():
        print(f"Creating virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [_venv_bin("python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    _run(pip + ["-r", "requirements/torch-pair.txt"])
    _run(pip + ["-e", ".[test]"])
    _run([_venv_bin("python"), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"])
    STAMP.write_text(wanted + "\n")
    print(f"Environment ready in {time.monotonic() - start:.0f} s.", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("main", "test", "setup"):
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    ensure_environment()
    if command == "setup":
        return 0
    if command == "test":
        cmd = [_venv_bin("python"), "-m", "pytest", *extra]
    else:
        cmd = [_venv_bin("kamim"), *(extra or MAIN_JOB)]
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
