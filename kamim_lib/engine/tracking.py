"""Optional experiment tracking (``logger`` key). ``metrics.jsonl`` stays the source of truth; trackers mirror it.

``logger=tensorboard`` writes ``<run_dir>/tensorboard/`` through ``torch.utils.tensorboard`` (needs the
``tensorboard`` package: ``pip install "kamim[tracking]"``); view it with ``tensorboard --logdir out_dir``. Logged,
with the optimiser step as x-axis: ``train/loss`` and ``train/lr`` every ``log_every_steps`` steps, every number of
an epoch's metrics line under ``epoch/`` (train loss, LR, images/s, validation top-1/top-5), final numbers
(kNN, ...) under ``final/``, and the resolved configuration as text. A resumed run discards events after its
checkpoint's step (``purge_step``), so the curves have no duplicated tail.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

TENSORBOARD_FOLDER = "tensorboard"


class NullTracker:
    """Tracks nothing (``logger=none``, and on every rank but the main one)."""

    def log_config(self, config: dict) -> None:
        pass

    def log_step(self, step: int, loss: float | None, lr: float) -> None:
        pass

    def log_epoch(self, step: int, record: dict) -> None:
        pass

    def log_final(self, step: int, summary: dict) -> None:
        pass

    def close(self) -> None:
        pass


def _scalars(record: dict) -> dict[str, float]:
    return {key: float(value) for key, value in record.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))}


class TensorBoardTracker(NullTracker):
    """Event files in ``folder`` (see the module docstring).

    Args:
        folder: where the event files go.
        purge_step: first step of this session; events at or after it from an earlier session are discarded.
    """

    def __init__(self, folder: str | Path, *, purge_step: int | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ValueError("logger='tensorboard' needs the tensorboard package: pip install tensorboard (or "
                             "pip install \"kamim[tracking]\"), or set logger=none") from None
        self.writer = SummaryWriter(log_dir=str(folder), purge_step=purge_step or None)

    def log_config(self, config: dict) -> None:
        text = json.dumps(config, indent=2, default=str)
        self.writer.add_text("config", "    " + text.replace("\n", "\n    "), 0)  # indented: markdown code block

    def log_step(self, step: int, loss: float | None, lr: float) -> None:
        if loss is not None:
            self.writer.add_scalar("train/loss", loss, step)
        self.writer.add_scalar("train/lr", lr, step)

    def log_epoch(self, step: int, record: dict) -> None:
        for key, value in _scalars(record).items():
            if key != "optimizer_steps":
                self.writer.add_scalar(f"epoch/{key}", value, step)
        self.writer.flush()

    def log_final(self, step: int, summary: dict) -> None:
        final = {key: value for key, value in summary.items() if key.startswith(("knn_", "val_", "train_loss"))}
        for key, value in _scalars(final).items():
            self.writer.add_scalar(f"final/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def create_tracker(logger: str, run_path: Path, *, is_main: bool, start_step: int = 0) -> NullTracker:
    """The tracker ``logger`` names ("none" or "tensorboard"); a :class:`NullTracker` off the main process."""
    if logger == "none" or not is_main:
        return NullTracker()
    if logger == "tensorboard":
        return TensorBoardTracker(run_path / TENSORBOARD_FOLDER, purge_step=start_step)
    raise ValueError(f"logger={logger!r} is not supported; choose none or tensorboard")
