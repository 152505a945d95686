"""Every profile in params/ gives every notebook parameters that its schema accepts (no typo survives to a run)."""

import pytest

from kamim_paper.runner.catalogue import SECTIONS, notebooks_dir
from kamim_paper.runner.profiles import list_profiles, load_profile
from kamim_paper.runner.parameters import notebook_parameters
from kamim_paper.sections.params import SECTION_PARAMS as SECTION_SCHEMAS
from kamim_paper.runner.runner import check_common_parameters, declared_parameters, parameters_for

SCHEMAS = SECTION_SCHEMAS  # the preflight's own table: one source


def test_every_section_has_a_schema():
    assert set(SCHEMAS) == {section.name for section in SECTIONS}


@pytest.mark.parametrize("profile_name", list_profiles())
def test_profile_parameters_pass_every_notebook_schema(profile_name, tmp_path):
    assert {"smoke", "tiny", "paper", "cifar10", "cifar100", "tpu", "colab"} <= set(list_profiles())
    profile = load_profile(profile_name)
    check_common_parameters(profile)
    for section in SECTIONS:
        notebook = notebooks_dir() / section.notebook
        namespace = {**declared_parameters(notebook), **parameters_for(section, profile, notebook, force=False, output_dir=tmp_path)}
        try:
            notebook_parameters(namespace, SCHEMAS[section.name])
        except ValueError as error:
            pytest.fail(f"profile {profile_name}, section {section.name}: {error}")


def test_the_colab_profile_runs_every_notebook_on_the_embedded_data_on_whatever_accelerator_is_there():
    """params/colab.yaml: device auto (XLA on a TPU runtime, CUDA on a GPU one), one notebook at a time, the embedded
    data, and engine settings that every device accepts (no fused AdamW on XLA, fp32 for a T4)."""
    from kamim_lib.runtime import fused_optimizer_enabled
    from kamim_paper.experiments.training import check_training_setup, training_setup

    profile = load_profile("colab")
    assert profile.jobs == 1 and profile.parameters["device"] == "auto"
    assert profile.parameters["dataset"] == "photo_crops"
    assert not set(profile.notebooks) - {section.name for section in SECTIONS}
    for section in SECTIONS:
        values = profile.parameters_for(section.name)
        overrides = values["train_overrides"]
        assert {"fused_optimizer=auto", "precision=fp32"} <= set(overrides), section.name
        check_training_setup(values["train_config"], overrides, device="xla")
        config = training_setup(values["train_config"], overrides, "/tmp", "xla").pretrain_config(())
        assert config.dataset == "photo_crops" and not fused_optimizer_enabled(config, "xla")
