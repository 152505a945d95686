"""Section 7's API (kamim_paper.sections.attention): tables and generated conclusions from hand-made summaries,
known answers; the notebook runs end to end in test_analysis_notebooks.py."""
from pathlib import Path

from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.sections import attention
from kamim_paper.sections.outputs import Markdown, SectionResult


def _rows(values):
    return {"layer": list(range(1, len(values) + 1)), "value": list(values)}


def _model(distance, nmi):
    return {"attention_distance_px": _rows(distance), "uniform_attention_distance_px": _rows([100.0] * len(distance)),
            "nmi": _rows(nmi)}


def _result(tmp_path: Path) -> SectionResult:
    summary = {"model": "vit_micro12", "provenance": {"profile": "tiny"},
               "models": {"simmim": _model([70.0, 80.0], [0.2, 0.1]), "kamim": _model([99.0, 100.0], [0.01, 0.02]),
                          RANDOM_INIT: _model([99.5, 99.8], [0.001, 0.002])}}
    return SectionResult("attention", attention.Params(profile="tiny", dataset="textured_digits"), tmp_path, summary)


def test_the_query_cell_is_row_col_or_the_grid_centre():
    assert attention.query_cell([1, 2]) == (1, 2)
    assert attention.query_cell(None) is None


def test_the_conclusions_are_generated_from_the_numbers(tmp_path):
    text = attention.conclusions(_result(tmp_path))
    assert isinstance(text, Markdown) and all(line.startswith("- ") for line in text.splitlines())
    lines = text.splitlines()
    assert lines[0] == ("- SimMIM: mean attention distance 70.0–80.0 px over its 2 blocks, 70.0%–80.0% of uniform "
                        "attention on its own grid (100.00 px); NMI 0.1000–0.2000.")
    assert ("- KAMIM's mean attention distance exceeds SimMIM's in 2 of 2 blocks; paired difference over blocks "
            "+24.5 px [-32.7, +81.7] (95 % Student-t interval over the 2 blocks).") in lines
    assert "- KAMIM's distance is within 1% of uniform attention of the random-init model's in 2 of 2 blocks." in lines
    assert "- SimMIM's distance is within 1% of uniform attention of the random-init model's in 0 of 2 blocks." in lines


def test_the_distance_and_nmi_tables_are_written_under_their_names(tmp_path):
    result = _result(tmp_path)
    distance = attention.distance_table(result)
    assert (tmp_path / "tables" / "attention_attention_distance_px.md").read_text() == distance
    assert distance.startswith("### Mean attention distance (px) per block (vit_micro12)")
    assert "| 1 | 70.0 | 99.0 | 99.5 |" in distance          # one decimal; then the paper's columns
    nmi = attention.nmi_table(result)
    assert (tmp_path / "tables" / "attention_nmi.md").read_text() == nmi
    assert "| 2 | 0.1000 | 0.0200 | 0.0020 |" in nmi          # four decimals
