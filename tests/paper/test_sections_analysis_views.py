"""The analysis sections (07–10) in a fresh clone: when the pretraining record they read, or a checkpoint it names,
is absent, they train this profile's first-seed pretraining runs (the pretrain section's own, same run ids) and
record them, in one printed line, and reuse them thereafter; an explicit checkpoint path that does not exist is one
line naming the command that makes this profile's checkpoints."""
import json

import pytest

from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.results.artifacts import record_pretrained_checkpoints
from kamim_paper.runner.profiles import load_profile
from kamim_paper.sections import analysis_views, fourier


def _params(tmp_path, **extra):
    return fourier.Params(profile="tiny", dataset="textured_digits", num_images=6, batch_size=4, device="cpu",
                          output_dir=str(tmp_path), **extra)


def test_the_pretraining_parameters_are_the_profiles_first_seed_in_the_same_folder(tmp_path):
    pretrain = analysis_views.pretraining_parameters(_params(tmp_path))
    profile = load_profile("tiny")
    assert pretrain.seeds == profile.parameters["seeds"][:1] == [0]
    assert pretrain.train_overrides == profile.parameters["train_overrides"]
    assert pretrain.train_config == profile.parameters["train_config"]
    assert pretrain.num_reconstruction_images == profile.notebooks["pretrain"]["num_reconstruction_images"]
    assert (pretrain.methods, pretrain.output_dir, pretrain.device, pretrain.profile, pretrain.force) == \
        (["simmim", "kamim"], str(tmp_path), "cpu", "tiny", False)


class FakePretraining:
    """Stands in for the pretrain section: records one file per method, as hand_off_checkpoints does."""

    def __init__(self, monkeypatch):
        self.calls = []
        monkeypatch.setattr(analysis_views.pretrain, "compute", self.compute)
        monkeypatch.setattr(analysis_views.pretrain, "hand_off_checkpoints", self.hand_off)

    def compute(self, params):
        self.calls.append(params)
        return params

    def hand_off(self, params):
        paths = {}
        for method in params.methods:
            paths[method] = analysis_views.section_output_dir(params.output_dir, params.profile) / f"{method}.pth"
            paths[method].write_text("weights")
        record_pretrained_checkpoints(params.output_dir, paths, model="vit_micro12")


def test_absent_checkpoints_are_trained_once_in_one_line_and_reused(tmp_path, monkeypatch):
    fake, lines = FakePretraining(monkeypatch), []
    params = _params(tmp_path)
    assert analysis_views.ensure_pretrained(tmp_path, params, log=lines.append)
    assert len(fake.calls) == 1 and fake.calls[0].seeds == [0] and len(lines) == 1
    assert "training this profile's pretraining runs first (simmim, kamim, seed 0" in lines[0]
    assert "kamim reproduce --profile tiny --only pretrain" in lines[0]
    assert not analysis_views.ensure_pretrained(tmp_path, params, log=lines.append)   # reused
    assert len(fake.calls) == 1 and len(lines) == 1
    (tmp_path / "kamim.pth").unlink()                                                 # a recorded file is gone
    assert analysis_views.ensure_pretrained(tmp_path, params, log=lines.append)
    assert len(fake.calls) == 2


def test_a_none_path_needs_the_record_and_explicit_paths_do_not(tmp_path, monkeypatch):
    fake = FakePretraining(monkeypatch)
    given = tmp_path / "moco.pth"
    given.write_text("weights")
    assert not analysis_views.ensure_pretrained(tmp_path, _params(tmp_path, model="vit_micro12",
                                                                  checkpoints={"moco": str(given)}))
    assert fake.calls == []
    assert analysis_views.ensure_pretrained(tmp_path, _params(tmp_path, checkpoints={"simmim": None,
                                                                                     "moco": str(given)}),
                                            log=lambda line: None)
    assert len(fake.calls) == 1


def test_a_missing_explicit_checkpoint_names_the_command_that_makes_checkpoints(tmp_path, monkeypatch):
    fake = FakePretraining(monkeypatch)
    params = _params(tmp_path, model="vit_micro12", checkpoints={"kamim": str(tmp_path / "nowhere.pth")})
    with pytest.raises(ValueError) as error:
        analysis_views.ensure_pretrained(tmp_path, params)
    message = str(error.value)
    assert "\n" not in message and "nowhere.pth" in message and "do not exist" in message
    assert "`kamim reproduce --profile tiny --only pretrain`" in message
    assert fake.calls == []


@pytest.mark.slow
def test_an_analysis_in_a_fresh_output_folder_trains_its_checkpoints_then_reuses_them(tmp_path, capsys):
    """The real thing with the tiny profile (about a minute on 2 cores): no record, so the first-seed SimMIM and
    KAMIM runs are trained and recorded, then analysed; a second call trains nothing."""
    params = _params(tmp_path)
    result = fourier.compute(params)
    printed = capsys.readouterr().out
    assert printed.count("training this profile's pretraining runs first") == 1
    record = json.loads((tmp_path / "pretrain" / "checkpoints.json").read_text())
    assert set(record["checkpoints"]) == {"simmim", "kamim"} and record["model"] == "vit_micro12"
    assert list(result["models"]) == ["simmim", "kamim", RANDOM_INIT]
    assert result["checkpoint_sources"]["kamim"] == "pretraining record"
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "runs").rglob("*.pt*")}
    again = fourier.compute(_params(tmp_path, force=True))
    assert "training this profile's pretraining runs first" not in capsys.readouterr().out
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "runs").rglob("*.pt*")} == before
    assert again["models"]["kamim"]["delta_log_amplitude"] == result["models"]["kamim"]["delta_log_amplitude"]
