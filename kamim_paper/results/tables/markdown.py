"""Markdown tables that put this project's numbers beside the paper's, with provenance underneath."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

NOT_AVAILABLE = "n/a"


def format_number(value, digits: int = 2) -> str:
    """'12.34', or 'n/a' for None / NaN (a number that does not exist is never shown as 0)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_AVAILABLE
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence], digits: int = 2) -> str:
    """A GitHub-flavoured markdown table; numbers formatted with ``digits`` decimals.

    The text ends with a newline after the last row, so a sentence appended after one more ``"\n"`` stands on its
    own paragraph: markdown reads a line directly under a table as one more row of it.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {row!r} has {len(row)} cells, the header has {len(header)}.")
        lines.append("| " + " | ".join(format_number(cell, digits) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def provenance_line(record: dict) -> str:
    """The provenance of a table as one italic line (profile, commit, device, date, torch)."""
    keys = ("profile", "git_commit", "device", "date", "torch")
    return "_" + "; ".join(f"{key}: {record.get(key, NOT_AVAILABLE)}" for key in keys) + "_"


def lines_glued_to_tables(text: str) -> list[str]:
    """The lines of markdown ``text`` that directly follow a table's last row without a blank line between them
    (markdown renders each as one more table row); empty when every table is closed by a blank line."""
    lines = text.split("\n")
    return [following for line, following in zip(lines, lines[1:])
            if line.lstrip().startswith("|") and following.strip() and not following.lstrip().startswith("|")]


def comparison_table(title: str, rows: Iterable[dict], *, ours_key: str = "ours", paper_key: str = "paper",
                     label_keys: Sequence[str], provenance: dict | None = None, digits: int = 2) -> str:
    """A titled table with label columns, then 'ours' beside 'paper' ('n/a' where unknown), then provenance.

    Args:
        title: heading text.
        rows: dicts holding every key of ``label_keys`` plus ``ours_key`` and optionally ``paper_key``.
        label_keys: the columns that identify a row (e.g. model, method, protocol).
        provenance: the ``provenance()`` record printed under the table.
    """
    header = [*label_keys, "ours", "paper"]
    body = [[row[key] for key in label_keys] + [row.get(ours_key), row.get(paper_key)] for row in rows]
    text = f"### {title}\n\n" + markdown_table(header, body, digits)
    if provenance is not None:
        text += "\n" + provenance_line(provenance) + "\n"
    return text
