"""An installed wheel (`pip install .`, `pip install git+...`) carries the profiles and the notebooks, and the
runner finds them there and writes under the current directory (kamim_paper/locations.py, setup.py).

The wheel is built from a copy of the package's sources (pip, with its build isolation: a fresh setuptools from
the index); "installed" by unpacking it (a pure-Python wheel is a zip) and put first on PYTHONPATH of a
subprocess that runs in an empty folder, so neither the checkout nor torch is installed again.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kamim_paper.runner.catalogue import SECTIONS
from kamim_paper.locations import list_profiles, source_root

ROOT = Path(__file__).resolve().parents[2]
# What the build reads (setup.py, pyproject.toml): copied, so that the build leaves nothing in the checkout.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "kamim_lib", "kamim_paper", "params", "notebooks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                                                    ".ipynb_checkpoints"))
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--disable-pip-version-check",
                             "-w", str(out), str(source)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    wheel, = out.glob("kamim-*.whl")
    return wheel


def test_the_checkout_is_recognised_as_one():
    assert source_root() == ROOT


def test_the_wheel_carries_every_profile_notebook_and_training_configuration(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = "kamim_paper/_bundled/"
    for profile in list_profiles():
        assert f"{bundled}params/{profile}.yaml" in names
    for config in (ROOT / "params" / "train").glob("*.yaml"):
        assert f"{bundled}params/train/{config.name}" in names
    for section in SECTIONS:
        assert f"{bundled}notebooks/{section.notebook}" in names
    assert f"{bundled}notebooks/setup_cell.py" in names
    assert "kamim_paper/locations.py" in names
    entry_points = zipfile.ZipFile(wheel).read(next(name for name in names if name.endswith("entry_points.txt")))
    assert b"kamim = kamim_paper.cli:main" in entry_points


def test_the_installed_package_finds_its_profiles_and_notebooks_and_writes_under_the_current_folder(wheel, tmp_path):
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    script = """
import json
from kamim_paper import locations
from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.profiles import list_profiles, load_profile
from kamim_paper.experiments.training import resolve_train_config
import kamim_paper
print(json.dumps({
    "package": kamim_paper.__file__,
    "source_root": None if locations.source_root() is None else str(locations.source_root()),
    "params": str(locations.params_dir()),
    "notebooks": [str(notebooks_dir() / section.notebook) for section in SECTIONS
                  if (notebooks_dir() / section.notebook).is_file()],
    "profiles": list_profiles(),
    "smoke_jobs": load_profile("smoke").jobs,
    "train_config": str(resolve_train_config("train/smoke.yaml")),
    "results": str(locations.default_results_root()),
}))
"""
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    bundled = site / "kamim_paper" / "_bundled"
    assert Path(found["package"]).parent == site / "kamim_paper"  # the unpacked wheel, not the checkout
    assert found["source_root"] is None
    assert found["params"] == str(bundled / "params")
    assert len(found["notebooks"]) == len(SECTIONS)
    assert all(path.startswith(str(bundled / "notebooks")) for path in found["notebooks"])
    assert set(found["profiles"]) == set(list_profiles())
    assert found["train_config"] == str(bundled / "params" / "train" / "smoke.yaml")
    assert found["results"] == str(work / "results")
