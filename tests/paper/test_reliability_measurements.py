"""Reliability, round 2 (issue 22), cached measurements (``runs/measurements``): keyed by the code that computes
them, measured again by `kamim reproduce --force`, and every reuse said in one line naming the file."""
import json
import time

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from kamim_paper.evidence import cache as cache_module
from kamim_paper.evidence.cache import MeasurementCache
from kamim_paper.runner import runner
from kamim_paper.runner.catalogue import Section


REMEASURE_ENV = "KAMIM_REMEASURE_SINCE"  # kamim_paper.evidence.cache.REMEASURE_ENV (checked below)


class Counter:
    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def test_a_change_to_the_measuring_code_measures_again(tmp_path, monkeypatch):
    repository = tmp_path / "repo"
    (repository / "fake").mkdir(parents=True)
    (repository / "fake" / "__init__.py").write_text("")
    module = repository / "fake" / "measure.py"
    module.write_text("def held_out_l1(model):\n    return model.error()\n")
    monkeypatch.setattr(cache_module, "_REPOSITORY", repository)
    monkeypatch.setattr(cache_module, "MEASURING_CODE", ("fake.measure",))
    cache = MeasurementCache(tmp_path / "measurements")
    measure = Counter(0.25)
    cache.value("held_out_errors", {"checkpoint": "abc"}, measure)
    cache.value("held_out_errors", {"checkpoint": "abc"}, measure)
    assert measure.calls == 1
    module.write_text("def held_out_l1(model):\n    return model.error() / 2\n")  # the measurement changed
    cache_module._code_digest.cache_clear()
    cache.value("held_out_errors", {"checkpoint": "abc"}, measure)
    assert measure.calls == 2
    cache_module._code_digest.cache_clear()


def test_the_measuring_code_covers_the_evidence_modules_and_the_library_they_call():
    cache_module._code_digest.cache_clear()
    code = cache_module.MEASURING_CODE
    for module in ("kamim_paper.evidence.checkpoint_measures", "kamim_paper.evidence.reconstruction",
                   "kamim_paper.evidence.probing", "kamim_paper.evidence.weighting", "kamim_lib.models",
                   "kamim_lib.weighting", "kamim_lib.keypoints", "kamim_lib.data"):
        assert module in code
    digest = cache_module.measuring_code_digest()
    assert len(digest) == 24 and digest == cache_module.measuring_code_digest()
    assert MeasurementCache._full_key({})["measuring_code"] == digest  # part of every key


def test_a_reused_measurement_is_said_in_one_line_naming_the_file(tmp_path, capsys):
    cache = MeasurementCache(tmp_path)
    cache.value("probe_top1", {"checkpoint": "a"}, Counter(75.0))
    assert "reusing" not in capsys.readouterr().err  # measured, not reused
    assert cache.value("probe_top1", {"checkpoint": "a"}, Counter(1.0)) == 75.0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and str(cache.path("probe_top1", {"checkpoint": "a"})) in lines[0]
    assert "reusing the cached measurement" in lines[0]


def test_force_measures_again_what_was_measured_before_it_then_shares_it(tmp_path, monkeypatch):
    assert cache_module.REMEASURE_ENV == REMEASURE_ENV
    cache = MeasurementCache(tmp_path)
    measure = Counter(0.5)
    cache.value("random_init_l1", {"bench": "b"}, measure)
    measured_at = json.loads(cache.path("random_init_l1", {"bench": "b"}).read_text())["measured_at"]
    time.sleep(0.01)
    # `kamim reproduce --force` starts: every entry measured before it is measured again, once.
    monkeypatch.setenv(REMEASURE_ENV, repr(measured_at + 0.001))
    cache.value("random_init_l1", {"bench": "b"}, measure)
    assert measure.calls == 2
    cache.value("random_init_l1", {"bench": "b"}, measure)  # another notebook of the same forced run
    assert measure.calls == 2


def env_notebook(path, record):
    params = new_code_cell("value = 1")
    params.metadata["tags"] = ["parameters"]
    body = new_code_cell(f"import os\nfrom pathlib import Path\n"
                         f"Path({str(record)!r}).write_text(os.environ.get({REMEASURE_ENV!r}, 'unset'))")
    nbformat.write(new_notebook(cells=[params, body], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


def test_force_reaches_the_notebooks_measurements(tmp_path, monkeypatch):
    monkeypatch.delenv(REMEASURE_ENV, raising=False)
    record = tmp_path / "env.txt"
    notebook = env_notebook(tmp_path / "nb.ipynb", record)
    section = Section("nb", "nb.ipynb", "test")
    assert runner.run_notebook(section, notebook, {"value": 2}, tmp_path / "out") == "ran"
    assert record.read_text() == "unset"
    assert runner.run_notebook(section, notebook, {"value": 2}, tmp_path / "out", force=True,
                               remeasure_since=1234.5) == "ran"
    assert float(record.read_text()) == 1234.5
