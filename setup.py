"""Packaging beyond what pyproject.toml can say: an installed wheel carries the profiles and the notebooks.

``params/`` and ``notebooks/`` stay at the top of the repository (where users look for them); in the wheel they
become ``kamim_paper/_bundled/params`` and ``kamim_paper/_bundled/notebooks``, which
``kamim_paper.locations`` finds when the package is not imported from a checkout (``pip install .``,
``pip install git+https://...``). Everything else (metadata, dependencies, extras) is in pyproject.toml.
"""
from setuptools import find_packages, setup

# Package name in the wheel -> folder of the repository.
BUNDLED = {
    "kamim_paper._bundled.params": "params",
    "kamim_paper._bundled.params.train": "params/train",
    "kamim_paper._bundled.notebooks": "notebooks",
}

setup(
    packages=find_packages(include=["kamim_lib", "kamim_lib.*", "kamim_paper", "kamim_paper.*"]) + list(BUNDLED),
    package_dir=BUNDLED,
    package_data={"kamim_paper._bundled.params": ["*.yaml"], "kamim_paper._bundled.params.train": ["*.yaml"],
                  "kamim_paper._bundled.notebooks": ["*.ipynb", "setup_cell.py"]},
)
