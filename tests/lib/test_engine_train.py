"""End-to-end training on the embedded digits with vit_nano: pretraining, fine-tuning, linear probing."""
import json

import pytest
import torch

from kamim_lib.checkpoint import load_checkpoint
from kamim_lib.config import run_dir
from kamim_lib.engine import build_task, fit
from kamim_lib.runtime import Runtime

from engine_fixtures import tiny_config


# Pretrain settings of the shared run; fine-tune/probe configs name them with the "pretrain." prefix to find it.
PRETRAIN = {"epochs": 4, "max_train_samples": 256, "lr": 2e-3}
FOR_PRETRAIN = {f"pretrain.{key}": value for key, value in PRETRAIN.items()}


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    """A finished KAMIM pretraining run (4 epochs of 16 steps), shared by the tests below."""
    out = tmp_path_factory.mktemp("runs")
    config = tiny_config(out, **PRETRAIN)
    return out, config, fit(config)


def test_pretraining_loss_goes_down_and_the_run_directory_is_complete(pretrained_run):
    out, config, summary = pretrained_run
    assert summary["status"] == "finished" and summary["optimizer_steps"] == 4 * 16
    assert summary["train_loss_last_epoch"] < 0.9 * summary["train_loss_first_epoch"]
    folder = run_dir(config)
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4]
    saved = json.loads((folder / "config.json").read_text())
    assert saved["config"]["method"] == "kamim" and saved["run_id"] == folder.name
    assert json.loads((folder / "env.json").read_text())["runtime"] == "cpu"
    state = load_checkpoint(folder / "checkpoints" / "checkpoint-last.pt")
    assert state["progress"]["finished"] and state["model_name"] == "vit_nano"
    assert state["config"] == saved["config"]


def test_keypoint_weights_on_the_device_match_the_workers(tmp_path):
    workers = build_task(tiny_config(tmp_path), Runtime("cpu"))
    device = build_task(tiny_config(tmp_path, keypoints_on="device"), Runtime("cpu"))
    sample = workers.train_dataset[3][0]
    assert "weights" in sample and "weights" not in device.train_dataset[3][0]
    batch = workers.collate([workers.train_dataset[i] for i in range(4)])
    on_device = device.method.loss_weights({"image": batch["image"]}, seed=0)
    torch.testing.assert_close(on_device, batch["weights"])
    assert on_device.min() >= 1.0 and on_device.max() > 1.0  # digits have keypoints: not all weights are 1


def test_simmim_has_no_weights_and_a_smaller_loss_scale(tmp_path):
    simmim = build_task(tiny_config(tmp_path, method="simmim"), Runtime("cpu"))
    kamim = build_task(tiny_config(tmp_path), Runtime("cpu"))
    batch = kamim.collate([kamim.train_dataset[i] for i in range(8)])
    assert simmim.method.loss_weights(batch, seed=0) is None
    torch.manual_seed(0)
    simmim.model.load_state_dict(kamim.model.state_dict())
    with torch.no_grad():
        # Weights >= 1 with the original normalisation (divide by the unweighted mask count): KAMIM >= SimMIM.
        assert kamim.train_loss(kamim.model, batch, 0) > simmim.train_loss(simmim.model, batch, 0)


def test_linear_probe_trains_only_the_head_and_reports_knn(pretrained_run):
    out, pretrain_config, _ = pretrained_run
    config = tiny_config(out, "linprobe", epochs=3, **FOR_PRETRAIN)
    assert config.pretrained == str(run_dir(pretrain_config))
    summary = fit(config)
    assert summary["derived"]["trainable_parameters"] == 64 * 10 + 10  # Linear(64 -> 10) only
    assert summary["derived"]["pretrain_method"] == "kamim"
    assert 0 <= summary["val_top1"] <= summary["val_top5"] <= 100 and summary["val_count"] == 64
    assert summary["train_loss_last_epoch"] < summary["train_loss_first_epoch"]
    assert summary["knn_top1"] > 30.0  # 10 classes: chance is 10%
    probe = load_checkpoint(run_dir(config) / "checkpoints" / "checkpoint-last.pt")["model"]
    pretrained = load_checkpoint(run_dir(pretrain_config) / "checkpoints" / "checkpoint-last.pt")["model"]
    for key, value in pretrained.items():
        if key.startswith("encoder."):
            torch.testing.assert_close(probe[key], value, rtol=0, atol=0)  # the backbone is frozen


def test_finetuning_learns_the_digits(pretrained_run):
    out, _, _ = pretrained_run
    summary = fit(tiny_config(out, "finetune", epochs=4, max_train_samples=256, max_eval_samples=128,
                              **FOR_PRETRAIN))
    assert summary["train_loss_last_epoch"] < summary["train_loss_first_epoch"]
    assert summary["val_top1"] > 30.0 and summary["val_top5"] >= summary["val_top1"]


def test_finetuning_from_scratch_with_mixup_runs(tmp_path):
    summary = fit(tiny_config(tmp_path, "finetune", pretrained="scratch", epochs=1, mixup_alpha=1.0,
                              cutmix_alpha=1.0, augment="finetune"))
    assert summary["derived"]["pretrained"] == "scratch" and summary["run_id"].startswith("scratch-")
    assert torch.isfinite(torch.tensor(summary["train_loss_last_epoch"]))


def test_probing_needs_a_finished_pretrain_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="Run that pretraining first"):
        fit(tiny_config(tmp_path, "linprobe"))


def test_pretrained_checkpoint_of_another_model_or_size_is_refused(pretrained_run):
    from kamim_lib.checkpoint import CheckpointError

    out, pretrain_config, _ = pretrained_run
    checkpoint = str(run_dir(pretrain_config) / "checkpoints" / "checkpoint-last.pt")
    with pytest.raises(CheckpointError, match="holds weights of model='vit_nano', but this run builds "
                                              "model='swin_nano'"):
        fit(tiny_config(out, "linprobe", model="swin_nano", pretrained=checkpoint, probe_layer=-1))
    with pytest.raises(CheckpointError, match="pretrained at img_size=32, this run uses img_size=64"):
        fit(tiny_config(out, "linprobe", img_size=64, pretrained=checkpoint))
