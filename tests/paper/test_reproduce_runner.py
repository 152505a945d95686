"""The papermill runner on throwaway notebooks: skip when done, failures name notebook and cell, keep logs."""
import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kamim_paper.runner.catalogue import Section, resolve_sections
from kamim_paper.runner.parameters import notebook_parameters
from kamim_paper.runner.profiles import Profile, load_profile
from kamim_paper.runner.runner import NotebookFailed, parameters_for, run_notebook


def _write_notebook(path: Path, body: str) -> Path:
    params = new_code_cell("value = 1\nprofile = 'x'")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell(body)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)
    return path


def test_run_skip_force_and_failure(tmp_path):
    out = tmp_path / "out"
    marker_file = tmp_path / "count.txt"
    ok = _write_notebook(tmp_path / "ok.ipynb",
                         f"from pathlib import Path\np = Path({str(marker_file)!r})\n"
                         "p.write_text(str(int(p.read_text()) + value if p.exists() else value))")
    section = Section("ok", "ok.ipynb", "test")
    assert run_notebook(section, ok, {"value": 2}, out) == "ran"
    assert marker_file.read_text() == "2"
    assert run_notebook(section, ok, {"value": 2}, out) == "skipped"          # done, same parameters
    assert run_notebook(section, ok, {"value": 3}, out) == "ran"              # parameters changed
    assert run_notebook(section, ok, {"value": 3}, out, force=True) == "ran"
    assert marker_file.read_text() == "8"
    executed = nbformat.read(out / "notebooks" / "ok.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)

    bad = _write_notebook(tmp_path / "bad.ipynb", "raise KeyError('boom')")
    with pytest.raises(NotebookFailed) as info:
        run_notebook(Section("bad", "bad.ipynb", "test"), bad, {}, out)
    failure = info.value
    assert failure.notebook == bad and failure.cell_index is not None and "KeyError" in failure.error
    assert "bad.ipynb" in str(failure) and failure.executed.exists()     # the log is kept
    assert not failure.executed.with_suffix(".done.json").exists()
    assert (out / "notebooks" / "ok.done.json").exists()                   # finished work is untouched


def test_force_is_set_where_no_done_marker_exists(tmp_path):
    out = tmp_path / "out"
    seen = tmp_path / "force.txt"
    nb = tmp_path / "f.ipynb"
    params = new_code_cell("force = False\nprofile = 'x'")
    params.metadata["tags"] = ["parameters"]
    nbformat.write(new_notebook(cells=[params, new_code_cell(
        f"from pathlib import Path\nPath({str(seen)!r}).write_text(str(force))")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), nb)
    section = Section("f", "f.ipynb", "test")
    assert run_notebook(section, nb, {"force": False}, out) == "ran" and seen.read_text() == "True"  # fresh
    assert run_notebook(section, nb, {"force": False}, out) == "skipped"
    # a forced re-run of a finished notebook passes the notebook's own parameter through unchanged
    assert run_notebook(section, nb, {"force": False}, out, force=True) == "ran" and seen.read_text() == "False"


def test_unknown_profile_override_is_named(tmp_path):
    nb = _write_notebook(tmp_path / "n.ipynb", "pass")
    profile = Profile("p", "", parameters={"value": 5, "other": 1}, notebooks={"n": {"valeu": 3}})
    with pytest.raises(ValueError, match="valeu"):
        parameters_for(Section("n", "n.ipynb", ""), profile, nb, force=False)
    profile = Profile("p", "", parameters={"value": 5, "other": 1}, notebooks={"n": {"value": 3}})
    # common parameters the notebook does not declare are not passed; profile is always set
    assert parameters_for(Section("n", "n.ipynb", ""), profile, nb, force=False) == {"value": 3, "profile": "p"}


def test_load_profile_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_profile("no_such_profile")
    path = tmp_path / "p.yaml"
    path.write_text("parameters: {}\nnotebook: {}\n")
    with pytest.raises(ValueError, match="notebook"):
        load_profile(path)


def test_resolve_sections_adds_needs_in_order():
    names = [s.name for s in resolve_sections(["linprobe"])]
    assert names == ["pretrain", "linprobe"]
    with pytest.raises(ValueError, match="nope"):
        resolve_sections(["nope"])


@dataclass(frozen=True)
class _Schema:
    epochs: int
    lr: float
    name: str
    root: str | None


def test_notebook_parameters_checks_names_and_types():
    namespace = {"epochs": 2, "lr": 1, "name": "a", "root": None, "json": json, "_hidden": 1, "In": [],
                 "Path": Path, "dumps": json.dumps}
    assert notebook_parameters(namespace, _Schema) == _Schema(2, 1, "a", None)
    with pytest.raises(ValueError, match="'epoch'.*did you mean 'epochs'"):
        notebook_parameters({**namespace, "epoch": 3}, _Schema)
    with pytest.raises(ValueError, match=r"epochs: expected an integer, got '2' \(type int\)"):
        notebook_parameters({**namespace, "epochs": "2"}, _Schema)
    with pytest.raises(ValueError, match="lr: expected a number, got True"):
        notebook_parameters({**namespace, "lr": True}, _Schema)
    with pytest.raises(ValueError, match="'root' is missing"):
        notebook_parameters({k: v for k, v in namespace.items() if k != "root"}, _Schema)


def test_profile_overrides_parse_yaml_and_beat_notebook_values():
    profile = Profile("p", "", parameters={"device": "cpu"}, notebooks={"a": {"epochs": 3, "device": "cpu"}})
    updated = profile.with_overrides(["device=cuda", "data_root=/data/x", "epochs=5", "methods=[kamim]"])
    assert updated.parameters_for("a") == {"device": "cuda", "data_root": "/data/x", "epochs": 5,
                                           "methods": ["kamim"]}
    assert profile.parameters == {"device": "cpu"}          # the original is untouched
    with pytest.raises(ValueError, match="must look like key=value"):
        profile.with_overrides(["device"])
    # One override form everywhere: a command prefix belongs in train_overrides, and the message says so.
    with pytest.raises(ValueError, match="train_overrides"):
        profile.with_overrides(["linprobe.lr=0.1"])


def test_a_common_parameter_no_notebook_declares_is_an_error(tmp_path):
    from kamim_paper.runner.runner import check_common_parameters

    check_common_parameters(Profile("p", "", parameters={"device": "cpu", "force": False}))
    with pytest.raises(ValueError, match="devcie.*did you mean 'device'"):
        check_common_parameters(Profile("p", "", parameters={"devcie": "cpu"}))


def test_final_line_counts_ok_failed_and_not_run_separately(tmp_path, monkeypatch):
    from kamim_paper.runner import runner

    def fake_run(section, notebook, parameters, out_dir, *, force=False):
        if section.name == "pretrain":
            raise NotebookFailed(section.name, notebook, 3, "RuntimeError: boom", out_dir / notebook.name)
        return "ran"

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    lines = []
    failures = runner.reproduce("tiny", out_dir=tmp_path, log=lines.append)
    assert [failure.section for failure in failures] == ["pretrain"]
    # method, masking, peers ran; pretrain failed; the eight sections that need it did not run
    assert _counts_line(lines).startswith("profile 'tiny': 3 ok, 1 failed, 8 not run (of 12 sections), elapsed")


def test_interrupted_reproduce_counts_what_ran_and_says_how_to_resume(tmp_path, monkeypatch):
    from kamim_paper.runner import runner

    def fake_run(section, notebook, parameters, out_dir, *, force=False):
        if section.name == "linprobe":
            raise KeyboardInterrupt
        return "skipped"

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        runner.reproduce("tiny", only=["linprobe"], out_dir=tmp_path, log=lines.append)
    assert lines[-1].startswith("interrupted while running linprobe; 1 ok, 0 failed, 1 not run (of 2 sections). "
                                "Run the same command again to resume")


def test_every_notebook_is_checked_against_the_schema_the_preflight_uses():
    from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
    from kamim_paper.sections.params import SECTION_PARAMS as SECTION_SCHEMAS

    from kamim_paper.sections.params import section_defaults

    for section in SECTIONS:
        source = (notebooks_dir() / section.notebook).read_text()
        schema = SECTION_SCHEMAS[section.name]
        assert re.search(rf"\b{section.name}\.parameters\(globals\(\)\)", source), section.name
        # The section module validates with the same schema the preflight uses: the defaults give a schema
        # instance, and a name the schema does not know is refused by name.
        module = importlib.import_module(f"kamim_paper.sections.{section.name}")
        assert module.Params is schema, section.name
        assert isinstance(module.parameters(section_defaults(schema)), schema), section.name
        with pytest.raises(ValueError, match="sedds"):
            module.parameters({**section_defaults(schema), "sedds": [0]})


def _timed_fake_run(events, lock, fail=()):
    import threading
    import time

    def fake_run(section, notebook, parameters, out_dir, *, force=False):
        with lock:
            events.append(("start", section.name, threading.current_thread().name))
        time.sleep(0.05)
        with lock:
            events.append(("end", section.name, None))
        if section.name in fail:
            raise NotebookFailed(section.name, notebook, 1, "RuntimeError: boom", out_dir / notebook.name)
        return "ran"

    return fake_run


@pytest.mark.parametrize("fail", [(), ("pretrain",)])
def test_jobs_run_notebooks_at_once_but_never_before_what_they_need(tmp_path, monkeypatch, fail):
    import threading

    from kamim_paper.runner import runner
    from kamim_paper.runner.catalogue import SECTIONS

    events, lock = [], threading.Lock()
    monkeypatch.setattr(runner, "run_notebook", _timed_fake_run(events, lock, fail))
    lines = []
    failures = runner.reproduce("tiny", out_dir=tmp_path, log=lines.append, jobs=2)
    assert [failure.section for failure in failures] == list(fail)
    order = [(kind, name) for kind, name, _ in events]
    for section in SECTIONS:
        if ("start", section.name) not in order:
            continue
        for need in section.needs:  # a section starts only after everything it needs has ended
            assert order.index(("end", need)) < order.index(("start", section.name)), (section.name, need)
    running, most = 0, 0
    for kind, _ in order:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 2  # two at once, never more
    assert {thread for kind, _, thread in events if kind == "start"} != {threading.main_thread().name}
    if fail:
        assert _counts_line(lines).startswith("profile 'tiny': 3 ok, 1 failed, 8 not run (of 12 sections)")
        assert any(line.endswith("linprobe (03_linear_probe.ipynb): not run, it needs pretrain which failed")
                   for line in lines)
    else:
        assert _counts_line(lines).startswith("profile 'tiny': 12 ok, 0 failed, 0 not run (of 12 sections)")


def test_heavy_sections_run_one_at_a_time_with_the_others_beside_them(tmp_path, monkeypatch):
    import dataclasses
    import threading

    from kamim_paper.runner import runner

    events, lock = [], threading.Lock()
    monkeypatch.setattr(runner, "run_notebook", _timed_fake_run(events, lock, ()))
    heavy = {"pretrain", "linprobe", "finetune", "detectors", "sweep"}
    profile = dataclasses.replace(load_profile("tiny"), heavy=tuple(heavy))
    lines = []
    assert runner.reproduce(profile, out_dir=tmp_path, log=lines.append, jobs=2) == []
    running, light_beside_heavy = set(), False
    for kind, name, _ in events:
        if kind == "start":
            running.add(name)
            assert len(running) <= 2 and len(running & heavy) <= 1, running
            light_beside_heavy |= bool(running & heavy) and bool(running - heavy)
        else:
            running.discard(name)
    assert light_beside_heavy
    assert _counts_line(lines).startswith("profile 'tiny': 12 ok, 0 failed, 0 not run (of 12 sections)")


def test_heavy_must_name_sections(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("parameters: {}\nheavy: [pretrain]\n")
    assert load_profile(path).heavy == ("pretrain",)
    assert set(load_profile("smoke").heavy) == {"pretrain", "linprobe", "finetune", "detectors", "sweep"}
    for bad in ("pretrain", "[pretrian]"):
        path.write_text(f"parameters: {{}}\nheavy: {bad}\n")
        with pytest.raises(ValueError, match="'heavy' must be a list of section names.*pretrain, linprobe"):
            load_profile(path)


def test_jobs_come_from_the_profile_unless_given_and_must_be_positive(tmp_path, monkeypatch):
    from kamim_paper.runner import runner

    path = tmp_path / "p.yaml"
    path.write_text("description: x\nparameters: {device: cpu}\njobs: 2\n")
    assert load_profile(path).jobs == 2
    assert load_profile("smoke").jobs == 2 and load_profile("tiny").jobs == 2
    path.write_text("parameters: {}\n")
    assert load_profile(path).jobs == 1  # the default
    for bad in ("0", "two", "true"):
        path.write_text(f"parameters: {{}}\njobs: {bad}\n")
        with pytest.raises(ValueError, match="'jobs' must be an int >= 1"):
            load_profile(path)
    monkeypatch.setattr(runner, "run_notebook", lambda *args, **kwargs: "ran")
    with pytest.raises(ValueError, match="jobs must be an int >= 1.*--jobs 2"):
        runner.reproduce("tiny", only=["method"], out_dir=tmp_path / "out", log=lambda line: None, jobs=0)


def test_ctrl_c_with_jobs_interrupts_every_running_kernel_and_says_how_to_resume(tmp_path, monkeypatch):
    import threading

    from kamim_paper.runner import kernel_control, runner

    started = threading.Barrier(3)
    interrupted = threading.Event()

    def fake_run(section, notebook, parameters, out_dir, *, force=False):
        if section.name in ("method", "pretrain"):
            started.wait(timeout=5)
            if not interrupted.wait(timeout=5):
                raise AssertionError("the kernels were not interrupted")
            raise KeyboardInterrupt
        return "ran"

    def fake_interrupt():
        interrupted.set()
        return 2

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    monkeypatch.setattr(runner, "interrupt_running_kernels", fake_interrupt)
    def wait_then_ctrl_c(*args, **kwargs):
        started.wait(timeout=5)  # both notebooks run: now the user presses Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr("concurrent.futures.wait", wait_then_ctrl_c)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        runner.reproduce("tiny", only=["method", "pretrain"], out_dir=tmp_path, log=lines.append, jobs=2)
    assert interrupted.is_set()
    assert lines[-1].startswith("interrupted while running method, pretrain; 0 ok, 0 failed, 2 not run "
                                "(of 2 sections). Run the same command again to resume")
    assert kernel_control.interrupt_running_kernels() == 0  # nothing left registered


def _counts_line(lines: list[str]) -> str:
    """The runner's ok / failed / not-run line: the last but one, before the comparison with the committed
    numbers that ends every run."""
    assert lines[-1].startswith(("every committed number", "not compared", "no committed numbers")) or \
        " committed numbers differ" in lines[-1], lines[-1]
    return lines[-2]


def test_papermills_misreading_of_parameters_with_an_equals_sign_is_not_shown(caplog):
    # papermill splits the parameters cell at '=' and then calls ["pretrain.num_workers=2"] an unknown parameter; the
    # runner checked every name itself, so that line would only mislead. Other papermill messages still show.
    import logging

    from kamim_paper.runner import runner

    runner._quiet_papermill_parameter_parser()
    with caplog.at_level(logging.INFO, logger="papermill"):
        logging.getLogger("papermill").warning("Passed unknown parameter: train_overrides")
        logging.getLogger("papermill").warning("Input notebook does not contain a cell with tag 'parameters'")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["Input notebook does not contain a cell with tag 'parameters'"]
