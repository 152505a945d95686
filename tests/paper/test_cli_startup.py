"""`kamim --help` answers at once: building the command's parser imports no torch & co (kamim_paper/cli/__init__.py).

Checked by what a fresh interpreter has imported, not by a timing (the machine's speed varies)."""
import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "numpy", "cv2", "matplotlib", "timm", "sklearn", "skimage", "papermill", "yaml",
         "kamim_lib")


def _modules_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(output.strip().splitlines()[-1]))


def test_building_the_parser_imports_nothing_heavy():
    loaded = _modules_after("from kamim_paper.cli import build_parser\nbuild_parser()")
    assert not [name for name in HEAVY if name in loaded]


@pytest.mark.parametrize("argv", [["--help"], ["reproduce", "--help"], []])
def test_kamim_help_imports_no_torch(argv):
    """`python -m kamim_paper.cli --help` in a subprocess, with -X importtime listing every module it imported."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "kamim_paper.cli", *argv],
                            capture_output=True, text=True)
    assert result.returncode in (0, 2), result.stderr[-2000:]
    assert "usage: kamim" in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "argparse" in imported  # the import log is there
    assert not [name for name in HEAVY if name in imported]


def test_a_commands_library_help_is_still_printed():
    """The configuration keys of `kamim pretrain --help` come from the library, loaded only for that help."""
    result = subprocess.run([sys.executable, "-m", "kamim_paper.cli", "pretrain", "--help"], capture_output=True,
                            text=True, check=True)
    assert "configuration keys" in result.stdout and "mask_ratio" in result.stdout
