"""Did a run reproduce the committed numbers? Every number of every section summary, compared key by key with the
version committed at ``HEAD``.

Timings (how long a run took, images per second) and provenance (date, commit, machine) describe the run, not the
result: they are left out. Everything else must be equal exactly, because every number is a function of the
configuration and the seeds.
"""
from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kamim_paper.results.artifacts import REPOSITORY_ROOT

# Keys whose values describe how a run went, not what it computed.
RUN_DESCRIPTION_KEYS = frozenset({"provenance", "wall_time_s", "images_per_s", "seconds", "date"})
SUMMARY_NAME = "summary.json"


@dataclass
class Comparison:
    """The outcome of comparing a results folder with the committed one.

    Attributes:
        compared: numbers compared.
        differences: ``(section, key path, committed, now)`` for every committed number that differs or is gone.
        new: ``section: key path`` of numbers this run has and the committed results do not (a new output).
        sections: sections compared; ``not_committed``: sections with no committed summary (nothing to compare).
        unavailable: why nothing could be compared (no git, not a checkout), or None.
    """

    compared: int = 0
    differences: list[tuple[str, str, object, object]] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    not_committed: list[str] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def reproduced(self) -> bool:
        return self.unavailable is None and not self.differences and self.compared > 0


def numbers(value, path: str = "") -> dict[str, float]:
    """``{key path: number}`` of every number inside a JSON value, run-description keys left out."""
    found = {}
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in RUN_DESCRIPTION_KEYS:
                found.update(numbers(item, f"{path}.{key}" if path else str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(numbers(item, f"{path}[{index}]"))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        found[path] = value
    return found


def _same(committed, now) -> bool:
    if isinstance(committed, float) and isinstance(now, float) and math.isnan(committed) and math.isnan(now):
        return True
    return committed == now


def committed_text(relative_path: Path, repo: Path = REPOSITORY_ROOT) -> str | None:
    """The file as committed at HEAD, or None when it is not committed.

    Raises:
        OSError / subprocess.SubprocessError: git is missing or this is not a checkout.
    """
    result = subprocess.run(["git", "show", f"HEAD:{relative_path.as_posix()}"], cwd=repo, capture_output=True,
                            text=True, timeout=30)
    if result.returncode != 0:
        if "not a git repository" in result.stderr:
            raise OSError(result.stderr.strip())
        return None
    return result.stdout


def compare_with_committed(out_dir: Path, repo: Path = REPOSITORY_ROOT) -> Comparison:
    """Compare every ``<out_dir>/<section>/summary.json`` with its committed version."""
    comparison = Comparison()
    try:
        relative_root = Path(out_dir).resolve().relative_to(Path(repo).resolve())
    except ValueError:
        comparison.unavailable = f"{out_dir} is not inside the checkout {repo}"
        return comparison
    for path in sorted(Path(out_dir).glob(f"*/{SUMMARY_NAME}")):
        section = path.parent.name
        try:
            committed = committed_text(relative_root / section / SUMMARY_NAME, repo)
        except (OSError, subprocess.SubprocessError) as error:
            comparison.unavailable = f"git could not show the committed results ({error})"
            return comparison
        if committed is None:
            comparison.not_committed.append(section)
            continue
        comparison.sections.append(section)
        before, now = numbers(json.loads(committed)), numbers(json.loads(path.read_text()))
        comparison.new += [f"{section}: {key}" for key in sorted(set(now) - set(before))]
        for key in sorted(before):
            comparison.compared += 1
            if not _same(before[key], now.get(key)):
                comparison.differences.append((section, key, before[key], now.get(key)))
    return comparison


def describe(comparison: Comparison, *, shown: int = 10) -> str:
    """One line when everything was reproduced; otherwise the count and the first ``shown`` differences."""
    if comparison.unavailable:
        return f"not compared with the committed numbers: {comparison.unavailable}."
    if not comparison.sections:
        return "no committed numbers to compare with (no section of this folder is committed)."
    extra = (f" ({', '.join(comparison.not_committed)}: not committed, not compared)"
             if comparison.not_committed else "")
    if comparison.new:
        extra += f"; {len(comparison.new)} new numbers not in the committed results (e.g. {comparison.new[0]})"
    if comparison.reproduced:
        return (f"every committed number was reproduced: {comparison.compared} numbers in "
                f"{len(comparison.sections)} sections equal the committed ones (git HEAD){extra}.")
    lines = [f"{len(comparison.differences)} of {comparison.compared} committed numbers differ (git HEAD){extra}:"]
    lines += [f"  {section}: {key}: committed {before!r}, now {now!r}"
              for section, key, before, now in comparison.differences[:shown]]
    if len(comparison.differences) > shown:
        lines.append(f"  ... and {len(comparison.differences) - shown} more")
    return "\n".join(lines)
