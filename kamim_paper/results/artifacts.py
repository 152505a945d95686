"""What one section hands to the next: e.g. the pretraining notebook records its final checkpoints here, and the
probing and analysis notebooks read them when no checkpoint path is given as a parameter."""
from __future__ import annotations

import json
from pathlib import Path

from kamim_paper import locations

PRETRAINED_INDEX = Path("pretrain") / "checkpoints.json"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# Committed results: written only by `kamim reproduce` (and so by `python3 tasks.py main`), which passes the folder
# to every notebook as its output_dir.
COMMITTED_RESULTS = REPOSITORY_ROOT / "results"
# Where a notebook writes when it is run by hand ("Run all" in Jupyter, nbconvert): in a checkout its git-ignored
# runs/notebooks/, so exploring never changes a tracked file; for an installed wheel ./runs/notebooks/ under the
# current directory (never inside site-packages).
INTERACTIVE_RESULTS = (locations.source_root() or Path.cwd()) / "runs" / "notebooks"


def results_root() -> Path:
    """The repository's committed ``results/`` folder (the runner's default ``--out-dir`` parent)."""
    return COMMITTED_RESULTS


def section_output_dir(output_dir: str | None, profile: str) -> Path:
    """Where a notebook writes: ``output_dir`` when given (the runner always gives it), else
    ``runs/notebooks/<profile>/`` (an interactive run, git-ignored); created if needed."""
    out = Path(output_dir) if output_dir else INTERACTIVE_RESULTS / Path(profile).stem
    out.mkdir(parents=True, exist_ok=True)
    return out


def relative_to_repo(value, root: str | Path = REPOSITORY_ROOT):
    """``value`` (any JSON-like structure) with every absolute path string inside ``root`` made relative to it.

    Committed summaries must not carry the paths of the machine that produced them; :func:`from_repo` turns such
    a path back into an absolute one on the machine that reads it. Paths outside ``root`` are left as they are.
    """
    if isinstance(value, dict):
        return {key: relative_to_repo(item, root) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [relative_to_repo(item, root) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        try:
            return str(Path(value).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            return value
    return value


def from_repo(path: str | Path, root: str | Path = REPOSITORY_ROOT) -> Path:
    """An absolute path: ``path`` itself when absolute, else ``root / path`` (the inverse of
    :func:`relative_to_repo`)."""
    path = Path(path)
    return path if path.is_absolute() else Path(root) / path


def record_pretrained_checkpoints(output_dir: str | Path, checkpoints: dict[str, str | Path], *, model: str) -> Path:
    """Write ``{method: checkpoint path}`` (and the model name) to ``<output_dir>/pretrain/checkpoints.json``."""
    path = Path(output_dir) / PRETRAINED_INDEX
    path.parent.mkdir(parents=True, exist_ok=True)
    # Relative to the repository (committed files carry no machine paths); read back with from_repo.
    resolved = relative_to_repo({method: str(Path(ckpt).resolve()) for method, ckpt in checkpoints.items()})
    payload = {"model": model, "checkpoints": resolved}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def pretrained_checkpoints(output_dir: str | Path) -> dict:
    """Read what the pretraining section recorded: ``{"model": name, "checkpoints": {method: absolute path}}``.

    Raises:
        FileNotFoundError: the pretraining section has not run for this output folder; says how to fix it.
    """
    path = Path(output_dir) / PRETRAINED_INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the pretraining section first "
                                f"(kamim reproduce --only pretrain) or pass checkpoint paths as parameters.")
    record = json.loads(path.read_text())
    record["checkpoints"] = {method: str(from_repo(ckpt)) for method, ckpt in record["checkpoints"].items()}
    return record


def make_section_outputs_portable(out_dir: str | Path, section: str, notebook_name: str,
                                  root: str | Path = REPOSITORY_ROOT) -> list[Path]:
    """Rewrite a finished section's committed outputs so they carry no path of this machine: every absolute path
    inside ``root`` in ``<out_dir>/<section>/*.json`` becomes repository-relative (:func:`relative_to_repo`; read
    back with :func:`from_repo`), and the executed notebook ``<out_dir>/notebooks/<notebook_name>`` loses the
    ``root/`` prefix wherever it printed one. Numbers are untouched. Returns the files that changed."""
    changed = []
    prefix = str(Path(root).resolve()) + "/"
    for path in sorted((Path(out_dir) / section).glob("*.json")):
        data = json.loads(path.read_text())
        portable = relative_to_repo(data, root)
        if portable != data:
            path.write_text(json.dumps(portable, indent=1) + "\n")
            changed.append(path)
    notebook = Path(out_dir) / "notebooks" / notebook_name
    if notebook.is_file():
        text = notebook.read_text()
        if prefix in text:
            notebook.write_text(text.replace(prefix, ""))
            changed.append(notebook)
    return changed
