"""The notebooks' setup cell (notebooks/setup_cell.py): install this project into a Colab runtime without replacing
its torch stack, and say which device ``device="auto"`` will use.

The setup cell imports this module from the fresh checkout before the project is installed, so only the standard
library is imported at the top; torch and kamim_lib are imported inside :func:`describe_runtime`.

Why constraints from what is installed: a Colab TPU runtime ships torch and torch_xla built for each other (torch_xla
2.9.x needs torch 2.9.x), a GPU runtime a torch built for its CUDA. ``pip install`` of a package that asks for
``torch>=2.1`` and ``torchvision`` could otherwise pull the newest torch over them (and torch_xla breaks, or the
CUDA build no longer matches). Each torch-family package that is installed is pinned at its exact version; a
missing torchvision is pinned at the release built for the installed torch (0.<minor + 15>.<patch>).
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Installed packages whose version the setup never changes (libtpu: torch_xla's TPU runtime library).
TORCH_FAMILY = ("torch", "torchvision", "torchaudio", "torch_xla", "libtpu")
# Where PyTorch publishes builds with a local version tag (+cpu, +cu121, ...), which PyPI does not have.
PYTORCH_INDEX = "https://download.pytorch.org/whl/{tag}"
INSTALL_STAMP = "kamim-colab-install.json"  # inside the checkout's .git/: never a change to the working tree


def is_tpu_runtime(environ=os.environ) -> bool:
    """True on a Colab/Cloud TPU VM (TPU environment variables or TPU device files)."""
    from kamim_lib.runtime.detect import tpu_attached

    return tpu_attached(environ)


def installed_versions(names=TORCH_FAMILY) -> dict[str, str | None]:
    """``{name: installed version or None}``."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def matching_torchvision(torch_version: str) -> str:
    """The torchvision release built for ``torch_version``: 2.Y.Z -> 0.(Y+15).Z, local tag kept (2.9.0+cpu ->
    0.24.0+cpu), as every torch 2.x release so far."""
    match = re.fullmatch(r"2\.(\d+)\.(\d+)(\+[\w.]+)?", torch_version)
    if match is None:
        raise ValueError(f"torch {torch_version}: no known matching torchvision release; install the torchvision "
                         "built for it first (https://pytorch.org/get-started/previous-versions/).")
    minor, patch, local = match.groups()
    return f"0.{int(minor) + 15}.{patch}{local or ''}"


def runtime_constraints(versions: dict[str, str | None]) -> tuple[list[str], list[str]]:
    """pip constraint lines that keep the installed torch family, and the extra index URLs those pins need.

    Args:
        versions: ``{name: installed version or None}`` (:func:`installed_versions`).
    """
    lines = [f"{name}=={version}" for name, version in versions.items() if version is not None]
    torch_version = versions.get("torch")
    indexes = []
    if torch_version is not None and versions.get("torchvision") is None:
        lines.append(f"torchvision=={matching_torchvision(torch_version)}")
    local = torch_version.partition("+")[2] if torch_version else ""
    if local and re.fullmatch(r"cpu|cu\d+|rocm[\d.]+", local):
        indexes.append(PYTORCH_INDEX.format(tag=local))
    return lines, indexes


def install_command(checkout: str | Path, constraints: Path, indexes: list[str], *, extras: str = "notebooks",
                    python: str = sys.executable) -> list[str]:
    """``pip install -c <constraints> -e <checkout>[extras]`` (editable: the checkout's notebooks and profiles)."""
    command = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", str(constraints)]
    for url in indexes:
        command += ["--extra-index-url", url]
    return command + ["-e", f"{Path(checkout)}[{extras}]"]


def _head(checkout: Path) -> str:
    return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def install_keeping_runtime(checkout: str | Path, *, extras: str = "notebooks", python: str = sys.executable,
                            log=print) -> dict[str, str | None]:
    """Install ``checkout`` (with ``extras``) into this Python, never changing its torch family; return the
    family's versions.

    Skipped when the same commit was installed with the same constraints (a re-run of the cell). The constraints
    file lives in the temporary folder, the stamp in the checkout's ``.git/``: the working tree stays clean (its
    provenance stamps do not read "+dirty").

    Raises:
        RuntimeError: pip failed, or a torch-family version changed anyway.
    """
    checkout = Path(checkout)
    before = installed_versions()
    lines, indexes = runtime_constraints(before)
    stamp = checkout / ".git" / INSTALL_STAMP
    record = {"commit": _head(checkout), "constraints": lines, "extras": extras, "python": python}
    if stamp.is_file() and json.loads(stamp.read_text()) == record:
        log(f"kamim {record['commit'][:12]} is installed already; torch family kept: {', '.join(lines) or 'none'}")
        return before
    constraints = Path(tempfile.gettempdir()) / "kamim-runtime-constraints.txt"
    constraints.write_text("".join(line + "\n" for line in lines))
    log(f"Installing kamim {record['commit'][:12]} from {checkout} (a minute or two), keeping "
        f"{', '.join(lines) or 'no torch (none installed)'} ...")
    result = subprocess.run(install_command(checkout, constraints, indexes, extras=extras, python=python))
    if result.returncode != 0:
        raise RuntimeError(f"pip install of {checkout} failed (exit {result.returncode}); its messages are above.")
    after = installed_versions()
    changed = [f"{name} {before[name]} -> {after[name]}" for name in before
               if before[name] is not None and after[name] != before[name]]
    if changed:
        raise RuntimeError(f"the install changed the runtime's {', '.join(changed)}; restart the runtime "
                           "(Runtime > Restart session) and report this.")
    stamp.write_text(json.dumps(record) + "\n")
    if any(name.startswith(("kamim_lib", "kamim_paper.sections")) for name in sys.modules):
        log("kamim was imported before this install: restart the session (Runtime > Restart session) to use it.")
    return after


def _major_minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


def torch_xla_mismatch(torch_version: str, torch_xla_version: str | None) -> str | None:
    """Why this torch / torch_xla pair cannot work, or None when it matches.

    torch_xla releases pin the torch release of the same major.minor (torch_xla 2.9.x needs torch 2.9.x).
    """
    if torch_xla_version is None:
        return (f"torch_xla is not installed. Install the pair that matches: pip install "
                f"'torch~={_major_minor(torch_version)}.0' 'torch_xla[tpu]~={_major_minor(torch_version)}.0' "
                "(or, for the newest torch_xla: pip install torch==2.9.0 'torch_xla[tpu]==2.9.0'), then restart "
                "the runtime.")
    if _major_minor(torch_version) != _major_minor(torch_xla_version):
        return (f"torch {torch_version} does not match torch_xla {torch_xla_version}: torch_xla needs the torch "
                f"release with the same major.minor. Run: pip install 'torch=={_major_minor(torch_xla_version)}.*' "
                f"(or pip install torch==2.9.0 'torch_xla[tpu]==2.9.0'), then restart the runtime.")
    return None


def describe_runtime(environ=os.environ) -> str:
    """One line: the versions that matter and the device ``device="auto"`` resolves to, with why.

    Never starts the XLA runtime (SPMD must be chosen before it starts, by the training code).

    Raises:
        RuntimeError: a TPU is attached but torch_xla is missing or does not match torch (the message says the fix).
    """
    import torch

    from kamim_lib.runtime.detect import TPU_VARIABLES, tpu_attached
    from kamim_lib.runtime.factory import resolve_device_type

    versions = installed_versions()
    if tpu_attached(environ):
        problem = torch_xla_mismatch(torch.__version__, versions["torch_xla"])
        if problem:
            raise RuntimeError(problem)
    device = resolve_device_type("auto")
    if device == "xla":
        tpu = next((f"{name}={environ[name]}" for name in TPU_VARIABLES if environ.get(name)), None)
        why = (f"PJRT_DEVICE={environ['PJRT_DEVICE']}" if environ.get("PJRT_DEVICE")
               else f"TPU attached{f', {tpu}' if tpu else ''}")
        where = f"xla ({why})"
    elif device == "cuda":
        where = f"cuda ({torch.cuda.device_count()}x {torch.cuda.get_device_name(0)})"
    else:
        where = "cpu"
    stack = ", ".join(f"{name} {version}" for name, version in versions.items()
                      if version is not None and name != "libtpu")
    from kamim_lib import __version__

    return f"kamim {__version__} ({stack}): device='auto' resolves to {where}"


def check_colab_runtime() -> str:
    """Describe the runtime (kept for callers of the previous setup cell): :func:`describe_runtime`."""
    return describe_runtime()
