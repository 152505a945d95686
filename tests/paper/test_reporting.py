import pytest

from kamim_paper.runner.colab import torch_xla_mismatch
from kamim_paper.results import comparison_table, format_number, paper_value, provenance


def test_paper_values_and_unknowns():
    assert paper_value("vit_b", "kamim", "linprobe") == 33.97
    assert paper_value("swin_b", "simmim", "finetune") == 79.58
    assert paper_value("vit_b", "kamim", "linprobe", dataset="cifar10") is None
    assert paper_value("vit_nano", "kamim", "linprobe") is None


def test_table_shows_na_never_zero():
    rows = [{"model": "vit_b", "method": "kamim", "ours": 12.345, "paper": 33.97},
            {"model": "vit_nano", "method": "simmim", "ours": 50.0, "paper": None}]
    text = comparison_table("LP", rows, label_keys=("model", "method"), provenance=provenance("smoke"))
    assert "| vit_b | kamim | 12.35 | 33.97 |" in text
    assert "| vit_nano | simmim | 50.00 | n/a |" in text
    assert "profile: smoke" in text and "git_commit" in text
    assert format_number(float("nan")) == "n/a"


@pytest.mark.parametrize("torch_v, xla_v, ok", [("2.9.0+cu126", "2.9.0", True), ("2.9.1", "2.9.0", True),
                                                 ("2.11.0", "2.9.0", False), ("2.9.0", None, False)])
def test_torch_xla_pair_check(torch_v, xla_v, ok):
    problem = torch_xla_mismatch(torch_v, xla_v)
    assert (problem is None) == ok
    if not ok:
        assert "pip install" in problem
