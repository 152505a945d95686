"""Reliability, round 2 (issue 22), profiles: `kamim reproduce --profile PATH` works for any file name, an unknown
section or key in a profile is an error with did-you-mean (never silently dropped), and every bad parameter is
reported at once."""
import pytest
import yaml

from kamim_paper.runner import runner
from kamim_paper.runner.parameters import notebook_parameters
from kamim_paper.runner.profiles import load_profile, params_dir
from kamim_paper.sections.params import MethodParams, PretrainParams, section_defaults


def profile_file(tmp_path, name="mytiny.yaml", **changes):
    data = yaml.safe_load((params_dir() / "tiny.yaml").read_text())
    data.update(changes)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def recording_runner(monkeypatch):
    ran = []
    monkeypatch.setattr(runner, "run_notebook",
                        lambda section, notebook, parameters, *args, **kwargs: ran.append(parameters) or "ran")
    return ran


def test_a_profile_file_with_any_name_runs(tmp_path, monkeypatch):
    path = profile_file(tmp_path)
    ran = recording_runner(monkeypatch)
    failures = runner.reproduce(str(path), only=["method"], out_dir=tmp_path / "out", log=lambda line: None)
    assert failures == [] and len(ran) == 1
    # The notebook is given the file itself, which its own check accepts; its outputs are named by the stem.
    assert ran[0]["profile"] == str(path.resolve())
    MethodParams(**{**section_defaults(MethodParams), "profile": ran[0]["profile"]})
    assert load_profile(str(path)).name == "mytiny"
    assert load_profile("tiny").label == "tiny"  # a built-in profile is still passed by name


def test_a_built_in_profile_name_is_still_checked():
    with pytest.raises(ValueError, match="profile='tiyn' is not supported.*path of a profile file"):
        MethodParams(profile="tiyn")


def test_an_unknown_section_under_notebooks_is_an_error_with_did_you_mean(tmp_path):
    data = yaml.safe_load((params_dir() / "tiny.yaml").read_text())
    data["notebooks"]["pretrian"] = data["notebooks"].pop("pretrain")
    path = profile_file(tmp_path, notebooks=data["notebooks"])
    with pytest.raises(ValueError, match=r"unknown section\(s\) 'pretrian' \(did you mean 'pretrain'\?\)"):
        load_profile(str(path))


def test_an_unknown_parameter_of_a_section_or_top_level_key_is_an_error_with_did_you_mean(tmp_path):
    data = yaml.safe_load((params_dir() / "tiny.yaml").read_text())
    data["notebooks"]["method"]["img_szie"] = 96
    data["notebooks"]["detectors"]["detector"] = ["fast"]
    data["job"] = 2
    with pytest.raises(ValueError) as caught:
        load_profile(str(profile_file(tmp_path, **data)))
    message = str(caught.value)
    assert "3 problems" in message
    assert "notebooks.method: unknown parameter(s) 'img_szie' (did you mean 'img_size'?)" in message
    assert "notebooks.detectors: unknown parameter(s) 'detector' (did you mean 'detectors'?)" in message
    assert "unknown top-level key(s) 'job' (did you mean 'jobs'?)" in message


def test_every_bad_parameter_of_a_notebook_is_reported_together():
    namespace = {**section_defaults(PretrainParams), "device": "gpu", "num_reconstruction_images": 0,
                 "seed": -1, "methods": "simmim"}
    with pytest.raises(ValueError) as caught:
        notebook_parameters(namespace, PretrainParams)
    message = str(caught.value)
    assert "4 problems" in message
    for name in ("methods", "device", "num_reconstruction_images", "seed"):
        assert name in message


def test_reproduce_reports_every_bad_parameter_before_running_anything(tmp_path, monkeypatch):
    path = profile_file(tmp_path, parameters={**yaml.safe_load((params_dir() / "tiny.yaml").read_text())[
        "parameters"], "device": "gpu", "seeds": [0, 0], "dataset": "imagenot", "num_imgaes": 3})
    ran = recording_runner(monkeypatch)
    with pytest.raises(ValueError) as caught:
        runner.reproduce(str(path), only=["pretrain", "attention"], out_dir=tmp_path / "out", log=lambda line: None)
    message = str(caught.value)
    assert ran == []
    assert "num_imgaes (did you mean 'num_images'?)" in message
    for problem in ("device='gpu'", "seeds=[0, 0] lists 0 more than once", "imagenot"):
        assert problem in message
    # Each problem says where its value came from: here the profile file's common parameters.
    assert f"seeds=[0, 0] lists 0 more than once; give each value once [from {path}, parameters]" in message


def test_a_bad_value_given_with_set_is_traced_to_the_command_line(tmp_path, monkeypatch):
    ran = recording_runner(monkeypatch)
    profile = load_profile("tiny").with_overrides(["temperature=-1"])
    with pytest.raises(ValueError) as caught:
        runner.reproduce(profile, only=["method"], out_dir=tmp_path / "out", log=lambda line: None)
    assert ran == []
    assert "temperature=-1.0 must be > 0 [from kamim reproduce --set]" in str(caught.value)
