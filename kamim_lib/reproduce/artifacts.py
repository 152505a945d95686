"""What one section hands to the next: e.g. the pretraining notebook records its final checkpoints here, and the
probing and analysis notebooks read them when no checkpoint path is given as a parameter."""
from __future__ import annotations

import json
from pathlib import Path

PRETRAINED_INDEX = Path("pretrain") / "checkpoints.json"


def record_pretrained_checkpoints(output_dir: str | Path, checkpoints: dict[str, str | Path], *, model: str) -> Path:
    """Write ``{method: checkpoint path}`` (and the model name) to ``<output_dir>/pretrain/checkpoints.json``."""
    path = Path(output_dir) / PRETRAINED_INDEX
    path.parent.mkdir(parents=True, exist_ok=True)
    # Absolute paths: notebooks run with their own folder as the working directory.
    resolved = {method: str(Path(ckpt).resolve()) for method, ckpt in checkpoints.items()}
    payload = {"model": model, "checkpoints": resolved}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def pretrained_checkpoints(output_dir: str | Path) -> dict:
    """Read what the pretraining section recorded: ``{"model": name, "checkpoints": {method: path}}``.

    Raises:
        FileNotFoundError: the pretraining section has not run for this output folder; says how to fix it.
    """
    path = Path(output_dir) / PRETRAINED_INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the pretraining section first "
                                f"(kamim reproduce --only pretrain) or pass checkpoint paths as parameters.")
    return json.loads(path.read_text())
