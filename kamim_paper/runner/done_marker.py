"""A notebook's done-marker ``<out_dir>/notebooks/<name>.done.json``: written atomically, read tolerantly.

The marker says a notebook finished with these contents and parameters (``{"fingerprint", "parameters",
"seconds"}``). It is replaced through a temporary file, so a kill never leaves half of one; a marker damaged anyway
(cut short by an older version, edited by hand, not a JSON object) is named on stderr and treated as absent, so the
notebook simply runs again instead of blocking every rerun.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kamim_lib.engine.run_dir import write_text_atomic


def read_done_marker(marker: Path) -> dict | None:
    """The marker's contents, or None when it is missing or damaged (damage named on stderr)."""
    if not marker.is_file():
        return None
    try:
        content = json.loads(marker.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        content, reason = None, str(error)
    else:
        reason = f"a JSON {type(content).__name__}, not an object"
    if isinstance(content, dict):
        return content
    print(f"notice: done-marker {marker} is damaged ({reason}); its notebook runs again", file=sys.stderr)
    return None


def write_done_marker(marker: Path, content: dict) -> None:
    """Replace ``marker`` atomically with ``content`` (indented JSON; paths and other objects as text)."""
    write_text_atomic(marker, json.dumps(content, indent=2, default=str) + "\n")
