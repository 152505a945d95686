"""The one lock (requirements/lock.txt): every dependency of pyproject.toml pinned once, inside pyproject's range,
with the torch pair of requirements/torch-pair.txt; tasks.py, environment.yml and .venv-xla install from it."""
import importlib.util
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"


def _tasks():
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins(text: str) -> dict[str, Version]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)", line)
            assert match, f"not an exact pin: {line!r}"
            name = canonicalize_name(match.group(1))
            assert name not in pins, f"{name} pinned twice"
            pins[name] = Version(match.group(2))
    return pins


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    for extra, texts in project["optional-dependencies"].items():
        if extra != "xla":  # torch_xla pins its own torch: .venv-xla's pins (requirements/xla-pair.txt)
            requirements += [Requirement(text) for text in texts]
    return [requirement for requirement in requirements if canonicalize_name(requirement.name) != "kamim"]


def test_every_pyproject_dependency_is_pinned_in_the_lock_within_its_range():
    pins = _pins(LOCK.read_text())
    for requirement in _pyproject_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"{LOCK.name} pins {name}=={pins[name]}, outside pyproject's {requirement}"


def test_the_lock_has_the_torch_pair_and_pyproject_keeps_wide_ranges():
    pins = _pins(LOCK.read_text())
    pair = _pins((ROOT / "requirements" / "torch-pair.txt").read_text())
    assert {name: pins[name] for name in pair} == pair
    ranges = {canonicalize_name(r.name): str(r.specifier) for r in _pyproject_requirements()}
    assert ranges["torch"] == ">=2.1" and ranges["torchvision"] == ">=0.16"  # Colab / GPU machines keep theirs


def test_every_install_route_uses_the_lock():
    tasks = _tasks()
    main = tasks.install_commands(Path("/venv"), Path("/venv/bin/python"), None)
    assert any(command[command.index("-c") + 1] == "requirements/lock.txt" for command in main if "-c" in command)
    environment = (ROOT / "environment.yml").read_text()
    assert "- -c requirements/lock.txt" in environment and "python=3.11" in environment


def test_the_environment_hash_covers_the_lock(tmp_path, monkeypatch):
    tasks = _tasks()
    for name in ("pyproject.toml", "setup.py", "requirements/lock.txt", "requirements/xla-pair.txt",
                 "requirements/xla-cuda.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text())
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    before = {name: tasks._environment_hash(pins) for name, (_, pins) in tasks.ENVIRONMENTS.items()}
    (tmp_path / "requirements" / "lock.txt").write_text(LOCK.read_text().replace("tqdm==", "tqdm==0"))
    after = {name: tasks._environment_hash(pins) for name, (_, pins) in tasks.ENVIRONMENTS.items()}
    assert all(before[name] != after[name] for name in before)


def test_the_xla_environment_takes_the_lock_without_its_torch_family():
    tasks = _tasks()
    kept = _pins(tasks.lock_without_torch_family(LOCK.read_text()))
    every = _pins(LOCK.read_text())
    dropped = set(every) - set(kept)
    assert {"torch", "torchvision", "triton"} <= dropped
    assert all(name in ("torch", "torchvision", "triton") or name.startswith(("nvidia-", "cuda-")) for name in dropped)
    assert {"numpy", "timm", "papermill", "jupyterlab", "transformers"} <= set(kept)
    xla = tasks.ENVIRONMENTS["xla"][1]
    commands = tasks.install_commands(Path("/venv-xla"), Path("/venv-xla/bin/python"), xla)
    assert all(str(Path("/venv-xla") / "constraints.txt") in map(str, command) for command in commands)
    cuda_groups = tasks.requirement_groups((ROOT / tasks.XLA_CUDA_GROUPS).read_text())
    assert [command[-len(group):] for command, group in zip(commands, cuda_groups)] == cuda_groups
    assert xla in commands[-2] and xla in commands[-1]
    assert all("--no-cache-dir" in command for command in commands)
