"""A sentence or provenance line under a markdown table is separated from it by a blank line (markdown reads a line
directly under a table as one more row): every table composer of ``kamim_paper.results.tables`` is parsed here."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kamim_paper.results.tables import analysis as analysis_tables
from kamim_paper.results.tables import experiments as experiment_tables
from kamim_paper.results.tables.markdown import (comparison_table, lines_glued_to_tables, markdown_table,
                                                 provenance_line)

SMOKE = Path(__file__).resolve().parents[2] / "results" / "smoke"
PROVENANCE = {"profile": "smoke", "git_commit": "abc123", "device": "cpu", "date": "today", "torch": "2"}


def _summary(section: str) -> dict:
    return json.loads((SMOKE / section / "summary.json").read_text())


def _after_last_row(text: str) -> str:
    lines = text.split("\n")
    last = max(index for index, line in enumerate(lines) if line.startswith("|"))
    return lines[last + 1] if last + 1 < len(lines) else ""


def test_the_check_finds_a_line_glued_to_a_table():
    assert lines_glued_to_tables("| a |\n|---|\n| 1 |\n_provenance_\n") == ["_provenance_"]
    assert lines_glued_to_tables("| a |\n|---|\n| 1 |\n\n_provenance_\n") == []


def _evidence_table_as_the_notebooks_write_it():
    evidence = _summary("pretrain")["evidence"]
    from kamim_paper.evidence.views import PRETRAIN_BASELINES

    return experiment_tables.evidence_table(evidence, title="Held-out masked L1", baseline_names=PRETRAIN_BASELINES,
                                            lower_is_better=True, digits=4) + provenance_line(PROVENANCE)


COMPOSED = {
    "markdown_table + sentence": lambda: markdown_table(["a", "b"], [[1, 2.5]]) + "\nA sentence under the table.",
    "comparison_table with provenance": lambda: comparison_table(
        "LP", [{"model": "vit", "ours": 1.0, "paper": None}], label_keys=("model",), provenance=PROVENANCE),
    "comparison_table + sentence": lambda: comparison_table(
        "LP", [{"model": "vit", "ours": 1.0}], label_keys=("model",)) + "\nPublished numbers: none.\n",
    "evidence_table + provenance": _evidence_table_as_the_notebooks_write_it,
    "per_layer_table": lambda: analysis_tables.per_layer_table(_summary("attention"), "nmi", title="NMI"),
    "reconstruction_table": lambda: analysis_tables.reconstruction_table(_summary("reconstructions")),
}


@pytest.mark.parametrize("name", sorted(COMPOSED))
def test_the_line_after_the_last_table_row_is_empty(name):
    text = COMPOSED[name]()
    assert _after_last_row(text) == "", text
    assert lines_glued_to_tables(text) == [], text


def test_the_evidence_verdict_and_provenance_are_paragraphs_of_their_own():
    text = _evidence_table_as_the_notebooks_write_it()
    blocks = text.strip().split("\n\n")
    assert blocks[-1] == provenance_line(PROVENANCE)
    assert blocks[-2].startswith("kamim − simmim") and "\n" not in blocks[-2]
