"""Reliability, round 2 (issue 22), `kamim reproduce`: a damaged done-marker is named and its notebook runs again
(markers are written atomically), and two reproductions into one --out-dir are locked against each other."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kamim_lib.engine.run_lock import RunLock, RunLockedError
from kamim_paper.runner import runner
from kamim_paper.runner.catalogue import Section
from kamim_paper.runner.done_marker import read_done_marker, write_done_marker


def counting_notebook(path, counter):
    params = new_code_cell("value = 1\nprofile = 'x'")
    params.metadata["tags"] = ["parameters"]
    body = new_code_cell(f"from pathlib import Path\np = Path({str(counter)!r})\n"
                         "p.write_text(str(int(p.read_text()) + 1 if p.exists() else 1))")
    nbformat.write(new_notebook(cells=[params, body], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


@pytest.mark.parametrize("damage", ["[]", '{"fingerprint": "ab', "", "\x00\xff"])
def test_a_damaged_done_marker_is_named_and_the_notebook_runs_again(tmp_path, capsys, damage):
    counter, out = tmp_path / "count.txt", tmp_path / "out"
    notebook = counting_notebook(tmp_path / "nb.ipynb", counter)
    section = Section("nb", "nb.ipynb", "test")
    assert runner.run_notebook(section, notebook, {"value": 2}, out) == "ran"
    marker = out / "notebooks" / "nb.done.json"
    marker.write_bytes(damage.encode("latin-1"))
    assert runner.run_notebook(section, notebook, {"value": 2}, out) == "ran" and counter.read_text() == "2"
    assert f"done-marker {marker} is damaged" in capsys.readouterr().err
    assert runner.run_notebook(section, notebook, {"value": 2}, out) == "skipped"  # the new marker is whole


def test_done_markers_are_replaced_atomically(tmp_path, monkeypatch):
    marker = tmp_path / "nb.done.json"
    write_done_marker(marker, {"fingerprint": "old"})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", disk_full)
    with pytest.raises(OSError):
        write_done_marker(marker, {"fingerprint": "new"})
    assert read_done_marker(marker) == {"fingerprint": "old"} and list(tmp_path.iterdir()) == [marker]


def test_two_reproductions_into_one_out_dir_are_locked_against_each_other(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(runner, "run_notebook", lambda section, *args, **kwargs: ran.append(section.name) or "ran")
    with RunLock(tmp_path):  # another `kamim reproduce` holds this --out-dir
        with pytest.raises(RunLockedError, match=f"{tmp_path} is in use by process"):
            runner.reproduce("tiny", out_dir=tmp_path, log=lambda line: None)
    assert ran == []
    runner.reproduce("tiny", out_dir=tmp_path, log=lambda line: None, only=["method"])
    assert ran == ["method"]
