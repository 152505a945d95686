"""``params/paper-dryrun.yaml``: the paper profile with only the training length shrunk."""
from __future__ import annotations

import pytest

from kamim_lib.config import config_to_dict
from kamim_paper.experiments.training import training_setup
from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.profiles import load_profile
from kamim_paper.runner.runner import parameters_for

# The engine keys the dry run may change, and nothing else: how long it trains and on how many images.
TRAINING_LENGTH_KEYS = {"epochs", "warmup_epochs", "max_train_samples", "max_eval_samples"}


@pytest.fixture(scope="module")
def profiles():
    return load_profile("paper"), load_profile("paper-dryrun")


def _notebook_parameters(profile, section, tmp_path) -> dict:
    """What the runner hands the section's notebook: every parameter, the section's defaults under the profile's."""
    return parameters_for(section, profile, notebooks_dir() / section.notebook, force=False, output_dir=tmp_path)


def test_every_notebook_parameter_but_the_training_length_is_the_papers(profiles, tmp_path):
    paper, dryrun = profiles
    assert dryrun.notebooks == paper.notebooks and dryrun.jobs == paper.jobs and dryrun.heavy == paper.heavy
    for section in SECTIONS:
        ours, theirs = (_notebook_parameters(profile, section, tmp_path) for profile in (dryrun, paper))
        assert ours.keys() == theirs.keys()
        differing = {name for name in ours if ours[name] != theirs[name]}
        expected = {"profile"} | ({"train_overrides"} if "train_overrides" in ours else set())
        assert differing == expected, f"section {section.name}: {sorted(differing - expected)} differ"
        assert ours["profile"] == "paper-dryrun"


@pytest.mark.parametrize("stage", ["pretrain", "linprobe", "finetune"])
def test_only_the_training_length_changes_in_every_run(profiles, stage, tmp_path):
    paper, dryrun = profiles
    configs = {}
    for profile in (paper, dryrun):
        parameters = profile.parameters
        overrides = [*parameters["train_overrides"], f"data_root={tmp_path}"]
        setup = training_setup(parameters["train_config"], overrides, tmp_path, parameters["device"])
        config = setup.pretrain_config() if stage == "pretrain" else \
            setup.classifier_config(stage, pretrained="scratch")
        configs[profile.name] = config_to_dict(config)
    ours, theirs = configs["paper-dryrun"], configs["paper"]
    assert ours.keys() == theirs.keys()
    differing = {key for key in ours if ours[key] != theirs[key]}
    assert differing == TRAINING_LENGTH_KEYS & set(ours)
    assert (theirs["model"], theirs["img_size"], theirs["epochs"]) == ("vit_b", 192, 110)
    assert ours["epochs"] == 2 and 0 < ours["warmup_epochs"] < ours["epochs"]
    # One (partial) batch per epoch: 2 optimiser steps per run.
    assert ours["max_train_samples"] <= ours["batch_size"] and not ours["drop_last"]
    if stage != "pretrain":
        assert ours["max_eval_samples"] == 16 and theirs["max_eval_samples"] is None
