"""One source for every list of choices, and data flowing one way: the configuration reads the choices of the
data and model steps from the modules that implement them; the runtime and the engine (downstream of the
configuration) read theirs from it; no data, keypoint, model, weighting or loss module imports the configuration."""
import ast
from pathlib import Path

import pytest

import kamim_lib
from kamim_lib.config import ConfigError, load_config, schema
from kamim_lib.config.checks import config_fields
from kamim_lib.config.schema import FinetuneConfig
from kamim_lib.data import classify_transforms
from kamim_lib.engine import heads
from kamim_lib.models import pss
from kamim_lib.runtime import factory

PACKAGE = Path(kamim_lib.__file__).parent
# Upstream of the configuration in the data flow (params -> config -> data -> model -> loss -> engine).
UPSTREAM = ["data", "keypoints", "models", "weighting.py", "losses.py"]


def absolute_imports(path: Path) -> set[str]:
    """The modules that ``path`` (a file of kamim_lib) imports from, relative imports resolved."""
    package = ["kamim_lib", *path.relative_to(PACKAGE).parent.parts]
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            modules.add(".".join(base + ([node.module] if node.module else [])))
    return modules


def test_absolute_imports_resolves_relative_imports():
    found = absolute_imports(PACKAGE / "data" / "classify_transforms.py")
    assert {"kamim_lib._validation", "kamim_lib.data.normalization", "torch", "torchvision.transforms"} <= found


@pytest.mark.parametrize("place", UPSTREAM)
def test_no_upstream_module_imports_the_configuration(place):
    files = sorted((PACKAGE / place).rglob("*.py")) if (PACKAGE / place).is_dir() else [PACKAGE / place]
    offenders = {str(path.relative_to(PACKAGE)): sorted(module for module in absolute_imports(path)
                                                        if module.startswith("kamim_lib.config"))
                 for path in files}
    assert {path: modules for path, modules in offenders.items() if modules} == {}


@pytest.mark.parametrize("key, owner", [
    ("finetune_crop", classify_transforms.FINETUNE_CROPS), ("eval_resize", classify_transforms.EVAL_RESIZES),
    ("random_erasing", classify_transforms.RANDOM_ERASINGS), ("pss", pss.PSS_SCHEDULES),
    ("pss_scorer", pss.PSS_SCORERS), ("pooling", heads.POOLINGS), ("device", factory.DEVICE_CHOICES),
    ("precision", factory.PRECISION_CHOICES), ("xla_mode", factory.XLA_MODE_CHOICES),
])
def test_each_key_and_the_code_that_checks_it_share_one_list_of_choices(key, owner):
    field, _ = config_fields(FinetuneConfig)[key]
    assert field.metadata["choices"] is owner


def test_the_lists_of_choices_and_their_messages_are_unchanged(tmp_path):
    assert schema.FINETUNE_CROPS == ("resize", "random_resized_crop")
    assert schema.EVAL_RESIZES == ("squash", "shorter_side_crop")
    assert schema.RANDOM_ERASINGS == ("black", "noise", "none")
    assert schema.PSS_SCHEDULES == ("none", "linear", "cosine", "cyclic")
    assert schema.PSS_SCORERS == ("l1", "l2", "random", "keypoints")
    with pytest.raises(ConfigError, match="random_erasing.*black, noise, none"):
        load_config({"model": "vit_nano", "dataset": "digits", "out_dir": str(tmp_path)},
                    {"random_erasing": "grey"}, section="finetune")
    with pytest.raises(ValueError, match="pss_scorer='l3' is not supported; choose one of 'l1', 'l2', 'random', "
                                         "'keypoints'"):
        pss.TokenDrop(scorer="l3")
