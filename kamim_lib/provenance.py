"""Where a number came from: profile, git commit, device, date, library versions."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path

import torch

# Folders whose changes do not make the code "dirty": what the notebooks and the runner write. A tree changed only
# there still runs the committed code, so its results carry the plain commit (issue 21: every stamp read +dirty
# because the notebooks dirtied the tree themselves).
RESULT_FOLDERS = ("results",)


def _git_commit(repo: Path) -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                *(f":(exclude){folder}" for folder in RESULT_FOLDERS)], cwd=repo,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def git_commit(repo: str | Path | None = None) -> str:
    """The checkout's commit as :func:`provenance` records it (``"<12 hex>"``, ``"<12 hex>+dirty"`` or
    ``"unknown"``); ``repo`` default: this one."""
    return _git_commit(Path(repo) if repo is not None else Path(__file__).resolve().parents[1])


def device_description() -> str:
    """'NVIDIA H100 80GB HBM3' / 'TPU v2-8' / the CPU model, with the count of devices."""
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU ({os.cpu_count()} cores): {cpu}"


def provenance(profile: str | None = None, repo: str | Path | None = None) -> dict:
    """A JSON-friendly record of the circumstances of a result (``repo``: the checkout; default: this one)."""
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parents[1]
    return {
        "profile": profile,
        "git_commit": _git_commit(repo),
        "device": device_description(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
