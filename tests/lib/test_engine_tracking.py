"""logger=tensorboard mirrors metrics.jsonl into event files that TensorBoard reads back."""
import json

import pytest

from kamim_lib.config import ConfigError, run_dir
from kamim_lib.engine import fit

from engine_fixtures import tiny_config

pytest.importorskip("tensorboard")


def test_tensorboard_event_file_holds_loss_lr_throughput_and_the_configuration(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_config(tmp_path, logger="tensorboard", log_every_steps=2)
    fit(config)
    folder = run_dir(config)
    events = EventAccumulator(str(folder / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "epoch/train_loss", "epoch/lr", "epoch/images_per_s",
            "final/train_loss_last_epoch"} <= scalars
    metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    logged = events.Scalars("epoch/train_loss")
    assert [event.step for event in logged] == [line["optimizer_steps"] for line in metrics] == [8, 16]
    assert [event.value for event in logged] == pytest.approx([line["train_loss"] for line in metrics], rel=1e-6)
    assert [event.step for event in events.Scalars("train/loss")] == list(range(2, 17, 2))
    assert events.Scalars("train/lr")[-1].value == pytest.approx(metrics[-1]["lr"], rel=1e-6)
    config_text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"logger": "tensorboard"' in config_text and '"model": "vit_nano"' in config_text


def test_logger_choices_are_checked():
    with pytest.raises(ConfigError, match="logger='wandb' is not allowed; choose one of none, tensorboard"):
        tiny_config("runs", logger="wandb")
