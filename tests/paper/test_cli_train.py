"""`kamim pretrain | finetune | linprobe` on the smoke profile."""
import json
from pathlib import Path

from kamim_paper.cli import main

SMOKE = str(Path(__file__).resolve().parents[2] / "params" / "train" / "smoke.yaml")


def test_pretrain_then_linprobe_from_the_command_line(tmp_path, capsys):
    quick = [f"out_dir={tmp_path}", "epochs=2", "warmup_epochs=0.5", "max_train_samples=256", "progress=false",
             "num_workers=0"]
    assert main(["pretrain", "--config", SMOKE, "--set", *quick]) == 0
    printed = capsys.readouterr().out
    assert "train loss:" in printed and "(epoch 1) ->" in printed and str(tmp_path) in printed
    # linprobe finds that run: same file, same --set values for the keys that name the pretrain run.
    assert main(["linprobe", "--config", SMOKE, "--set", *quick, "pretrain.epochs=2", "pretrain.warmup_epochs=0.5",
                 "pretrain.max_train_samples=256", "max_eval_samples=64", "knn_k=5"]) == 0
    printed = capsys.readouterr().out
    assert "val top-1" in printed and "kNN (k=5)" in printed


def test_print_config_resolves_overrides(capsys):
    assert main(["finetune", "--config", SMOKE, "--set", "pretrained=scratch", "lr=0.01", "--print-config"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["lr"] == 0.01 and shown["config"]["section"] == "finetune"
    assert shown["run_dir"].startswith("results/smoke/finetune/scratch-vit_micro12-photo_crops-")


def test_bad_keys_exit_2_with_one_line(capsys):
    assert main(["pretrain", "--config", SMOKE, "--set", "temprature=0.5"]) == 2
    error = capsys.readouterr().err
    assert "did you mean 'temperature'" in error and "Traceback" not in error
