"""``<out_dir>/reproduce.json``: how the last `kamim reproduce` into a results folder went — each section's outcome
and wall time, the total, the machine (provenance) and whether the committed numbers were reproduced.

It is the one place a run's time is recorded (the README points here instead of quoting dated measurements).
"""
from __future__ import annotations

import json
from pathlib import Path

from kamim_lib.provenance import provenance
from kamim_paper.results.reproduced import Comparison

REPORT_NAME = "reproduce.json"


def write_run_report(out_dir: Path, profile: str, outcome: dict[str, str], seconds: dict[str, float],
                     elapsed: float, comparison: Comparison) -> Path:
    """Write the report atomically (a killed run leaves the previous one intact) and return its path."""
    report = {
        "profile": profile,
        "provenance": provenance(profile),
        "total_seconds": round(elapsed, 1),
        "sections": {name: {"outcome": status, "seconds": seconds.get(name)} for name, status in outcome.items()},
        "reproduced_committed_numbers": None if comparison.unavailable else comparison.reproduced,
        "numbers_compared": comparison.compared,
        "numbers_differing": len(comparison.differences),
    }
    path = Path(out_dir) / REPORT_NAME
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(report, indent=2) + "\n")
    temporary.replace(path)
    return path
