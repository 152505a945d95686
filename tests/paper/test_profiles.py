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
    assert {"smoke", "tiny", "paper", "cifar10", "cifar100", "tpu"} <= set(list_profiles())
    profile = load_profile(profile_name)
    check_common_parameters(profile)
    for section in SECTIONS:
        notebook = notebooks_dir() / section.notebook
        namespace = {**declared_parameters(notebook), **parameters_for(section, profile, notebook, force=False, output_dir=tmp_path)}
        try:
            notebook_parameters(namespace, SCHEMAS[section.name])
        except ValueError as error:
            pytest.fail(f"profile {profile_name}, section {section.name}: {error}")
