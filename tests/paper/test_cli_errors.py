"""Every error a user can cause ends in one message that names the thing and what to do, and an exit code —
never a traceback. Cases run through the `kamim` entry point (``kamim_paper.cli.main``); an exception escaping it
would fail the test, and stderr must not hold a traceback either."""
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

import kamim_lib.checkpoint as checkpoint_module
from kamim_paper.cli import main
from kamim_paper.cli.errors import EXIT_IO, EXIT_USAGE
from kamim_lib.config import run_dir
from kamim_lib.engine import loop
from kamim_lib.engine.preemption import EXIT_INTERRUPTED
from kamim_lib.engine.run_lock import RunLock

from engine_fixtures import TINY, tiny_config

REPO = Path(__file__).resolve().parents[2]
SMOKE = str(REPO / "params" / "train" / "smoke.yaml")


def tiny_file(tmp_path: Path, **top) -> str:
    """A configuration file holding TINY (one epoch), writing under tmp_path/runs."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "epochs": 2, "out_dir": str(tmp_path / "runs"), **top}))
    return str(path)


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("argv, expected", [
    (lambda t: ["pretrain", "--config", write(t / "bad.yaml", "model: [vit_nano\nlr: 1\n")],
     ["bad.yaml", "not valid YAML: line 2, column 3"]),
    (lambda t: ["pretrain", "--config", t], ["is a folder; give a configuration file inside it"]),
    (lambda t: ["pretrain", "--config", t / "missing.yaml"], ["configuration file", "missing.yaml", "not found"]),
    (lambda t: ["pretrain", "--config", SMOKE, "--set", "betas=[0.9", "--print-config"],
     ["betas: expected a list [float, float] in YAML flow syntax, got '[0.9'", "[from --set]"]),
    (lambda t: ["pretrain", "--config", SMOKE, "--set", "temperature=0.01", "--print-config"],
     ["temperature=0.01 is too small", "overflows float32/bf16", "[from --set]"]),
    (lambda t: ["reproduce", "--profile", write(t / "p.yaml", "parameters: {device: [cpu}\n")],
     ["p.yaml' is not valid YAML: line 1"]),
    (lambda t: ["reproduce", "--profile", "tiny", "--set", "data_root=[x"], ["--set 'data_root=[x'", "not valid YAML"]),
    (lambda t: ["reproduce", "--profile", "tiny", "--set", "device=gpu", "--out-dir", t / "out"],
     ["nothing was run", "pretrain (02_pretrain.ipynb): device='gpu'", "attention (07_attention.ipynb): device='gpu'"]),
    (lambda t: ["reproduce", "--profile", "tiny", "--only", "method", "--out-dir", write(t / "file", "")],
     ["--out-dir", "is a file"]),
    (lambda t: ["weights-demo", "--out", write(t / "file", "") / "figure.png"], ["--out:", "is a file"]),
])
def test_bad_input_is_one_message_and_exit_2(argv, expected, tmp_path, capsys):
    code, error = run_cli(argv(tmp_path), capsys)
    assert code == EXIT_USAGE
    for text in expected:
        assert text in error
    assert error.count("\n") == 1 or error.startswith(("kamim pretrain: error: invalid configuration:",
                                                       "kamim reproduce: error: profile"))


def test_every_bad_key_is_reported_with_where_its_value_came_from(tmp_path, capsys):
    config = tiny_file(tmp_path, img_size=40)
    code, error = run_cli(["pretrain", "--config", config, "--set", "temprature=1", "lr=abc", "batch_size=-1",
                           "--print-config"], capsys)
    assert code == EXIT_USAGE
    lines = error.splitlines()[1:]
    assert len(lines) == 5, error
    assert "unknown key 'temprature'" in lines[0] and lines[0].endswith("[from --set]")
    assert lines[1].startswith("  - lr: expected a number") and lines[1].endswith("[from --set]")
    assert lines[2] == "  - batch_size=-1 must be >= 1 [from --set]"
    # img_size comes from the file, mask_patch_size from the file's pretrain: block
    assert "img_size=40 must be divisible by mask_patch_size=16" in lines[3]
    assert f"img_size from {config};" in lines[3] and f"mask_patch_size from {config}, pretrain: block" in lines[3]
    assert "img_size=40 must be divisible by the patch size 16 of model='vit_nano'" in lines[4]
    assert "invalid configuration in" not in error  # the header does not blame the file for --set values


@pytest.mark.parametrize("make_obstacle, expected", [
    (lambda runs: write(runs, "a file where the output folder should be"), "is a file, but"),
    (lambda runs: write(runs / "pretrain", "a file one level down"), "is a file, but"),
])
def test_unwritable_output_is_found_before_data_or_model_are_built(make_obstacle, expected, tmp_path, capsys,
                                                                    monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the data and model were built before the output folder was checked")

    monkeypatch.setattr(loop, "build_task", never)
    make_obstacle(tmp_path / "runs")
    code, error = run_cli(["pretrain", "--config", tiny_file(tmp_path)], capsys)
    assert code == EXIT_USAGE and "out_dir:" in error and expected in error


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_folder_without_permission_is_named(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, error = run_cli(["pretrain", "--config", tiny_file(tmp_path, out_dir=str(locked / "runs"))], capsys)
    assert code == EXIT_USAGE and "out_dir: cannot write in" in error and "Permission denied" in error


def test_truncated_latest_checkpoint_says_how_to_go_on(tmp_path, capsys):
    config_file = tiny_file(tmp_path)
    checkpoint = run_dir(tiny_config(tmp_path / "runs", epochs=2)) / "checkpoints" / "checkpoint-last.pt"
    checkpoint.parent.mkdir(parents=True)
    torch.save({"format": "kamim-checkpoint", "model": {"w": torch.zeros(1000)}}, checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:600])  # what an interrupted copy leaves
    code, error = run_cli(["pretrain", "--config", config_file], capsys)
    assert code == EXIT_USAGE
    assert "truncated or corrupt" in error and "move it away (or delete it)" in error
    assert "weights_only=False" not in error


def test_checkpoint_that_needs_code_is_refused_without_suggesting_the_unsafe_loader(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    torch.save({"format": "kamim-checkpoint", "model": Payload()}, tmp_path / "evil.pt")
    code, error = run_cli(["finetune", "--config", tiny_file(tmp_path), "--set", f"pretrained={tmp_path / 'evil.pt'}"],
                          capsys)
    assert code == EXIT_USAGE and "can run code" in error and "posix.system" in error
    assert "weights_only=False" not in error and not (tmp_path / "ran").exists()


def test_disk_full_while_checkpointing_names_the_cause_and_keeps_the_previous_checkpoint(tmp_path, capsys,
                                                                                        monkeypatch):
    real_save, calls = torch.save, {"n": 0}

    def fills_the_disk(state, stream):
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint: half written, then the disk is full
            stream.write(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(state, stream)

    monkeypatch.setattr(checkpoint_module.torch, "save", fills_the_disk)
    code, error = run_cli(["pretrain", "--config", tiny_file(tmp_path)], capsys)
    assert code == EXIT_IO
    assert "cannot write checkpoint" in error and "no space left on the device" in error
    assert "the previous checkpoint is intact" in error and "run the same command again" in error
    folder = run_dir(tiny_config(tmp_path / "runs", epochs=2)) / "checkpoints"
    assert [path.name for path in folder.iterdir()] == ["checkpoint-last.pt"]  # no temporary file left
    assert checkpoint_module.load_checkpoint(folder / "checkpoint-last.pt")["progress"]["epoch"] == 1


def test_a_second_process_on_the_same_run_is_told_who_holds_it(tmp_path, capsys):
    config_file = tiny_file(tmp_path)
    with RunLock(run_dir(tiny_config(tmp_path / "runs", epochs=2))):
        code, error = run_cli(["pretrain", "--config", config_file], capsys)
    assert code == EXIT_USAGE
    assert f"is in use by process {os.getpid()} on host" in error and "wait for that run to end" in error
    assert not (run_dir(tiny_config(tmp_path / "runs", epochs=2)) / "metrics.jsonl").exists()


@pytest.mark.slow
def test_ctrl_c_saves_and_says_how_to_resume(tmp_path):
    config_file = tiny_file(tmp_path, epochs=200, checkpoint_every_steps=1)
    checkpoint = run_dir(tiny_config(tmp_path / "runs", epochs=200)) / "checkpoints" / "checkpoint-last.pt"
    process = subprocess.Popen([sys.executable, "-m", "kamim_paper.cli", "pretrain", "--config", config_file],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, error = process.communicate(timeout=120)
    assert process.returncode == EXIT_INTERRUPTED, error
    assert "Traceback" not in error and "KeyboardInterrupt" not in error
    lines = [line for line in error.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kamim pretrain: stopped: interrupted (SIGINT) after optimiser step")
    assert "Run the same command again to resume" in lines[0]
    steps = checkpoint_module.load_checkpoint(checkpoint)["progress"]["optimizer_steps"]
    assert f"after optimiser step {steps};" in lines[0]


@pytest.mark.slow
def test_ctrl_c_in_reproduce_is_one_message_without_kernel_tracebacks(tmp_path):
    # A terminal's Ctrl-C reaches the whole foreground process group: the runner and the notebook's kernel.
    process = subprocess.Popen([sys.executable, "-m", "kamim_paper.cli", "reproduce", "--profile", "tiny", "--only",
                                "pretrain", "--out-dir", str(tmp_path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout.readline().startswith(f"profile 'tiny': 1 section(s), writing to {tmp_path}")
    assert process.stdout.readline().startswith("[1/1] pretrain (02_pretrain.ipynb): running")
    time.sleep(3)
    os.killpg(process.pid, signal.SIGINT)
    out, error = process.communicate(timeout=120)
    assert process.returncode == EXIT_INTERRUPTED
    assert "Traceback" not in error and "ZMQError" not in error and "zmq.error" not in error, error
    assert "kamim reproduce: stopped: interrupted (Ctrl-C); run the same command again" in error
    assert out.strip().splitlines()[-1].startswith("interrupted while running pretrain; 0 ok, 0 failed, 1 not run")
