""""Run all" in Jupyter, as a newcomer does it: the notebook with its own defaults, no parameter injected, executed
from notebooks/. It must compute the committed numbers and change no tracked file (it writes under the git-ignored
runs/notebooks/<profile>/)."""
import json
import subprocess

import nbformat
import pytest
from nbclient import NotebookClient

from kamim_paper.results.artifacts import INTERACTIVE_RESULTS, REPOSITORY_ROOT
from kamim_paper.results.reproduced import numbers
from kamim_paper.runner.catalogue import notebooks_dir


def _tracked_changes() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPOSITORY_ROOT,
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_run_all_of_the_method_notebook_reproduces_the_committed_numbers_without_touching_tracked_files(monkeypatch):
    # A newcomer's kernel has torch's default threads, as the committed run had (tests/conftest.py gives the
    # processes started under pytest-xdist one): a float32 sum over threads rounds differently in the 7th digit.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = _tracked_changes()
    notebook = nbformat.read(str(notebooks_dir() / "01_method.ipynb"), as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=600,
                   resources={"metadata": {"path": str(notebooks_dir())}}).execute()
    assert _tracked_changes() == before
    written = json.loads((INTERACTIVE_RESULTS / "smoke" / "method" / "summary.json").read_text())
    committed = json.loads((REPOSITORY_ROOT / "results" / "smoke" / "method" / "summary.json").read_text())
    # The same numbers; only where the run wrote (output_dir) and force differ from the committed run's.
    for key in ("parameters",):
        written.pop(key), committed.pop(key)
    assert numbers(written) == numbers(committed)
