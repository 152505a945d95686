"""Reliability, round 2 (issue 22): a run is reused or resumed only for the same configuration on the same data
and the same checkpoint; its files survive any kill; every message's advice works when followed."""
import errno
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import kamim_lib.checkpoint
from kamim_lib.checkpoint import CheckpointError, CheckpointTooNewError, CheckpointWriteError, load_checkpoint
from kamim_lib.config import run_dir
from kamim_lib.data import build_dataset
from kamim_lib.data.fingerprint import data_fingerprint, same_data
from kamim_lib.engine import fit, load_backbone
from kamim_lib.engine.out_of_memory import TrainingOutOfMemoryError
from kamim_lib.engine.preemption import EXIT_PREEMPTED
from kamim_lib.engine.run_lock import RunLock, RunLockedError
from kamim_lib.engine.session import DataMismatchError

from data_fixtures import FOLDER_RUN, write_image_folder as image_folder
from engine_fixtures import tiny_config

def fingerprint(root):
    return data_fingerprint(build_dataset("imagefolder", root, "train"), name="imagefolder", root=root, options={})


def test_fingerprint_covers_contents_so_other_pictures_under_the_same_names_differ(tmp_path):
    first = image_folder(tmp_path / "first", 3)
    other = image_folder(tmp_path / "other", 3, seed=1)  # the same file names, other pictures
    moved = tmp_path / "moved"
    shutil.copytree(first, moved)
    assert fingerprint(first)["index_sha256"] == fingerprint(other)["index_sha256"]  # names and labels agree
    assert not same_data(fingerprint(first), fingerprint(other))
    assert same_data(fingerprint(first), fingerprint(moved))
    assert "sizes of 6 files" in fingerprint(first)["contents_covers"]


@pytest.mark.slow
def test_a_finished_run_is_not_returned_for_other_pictures_under_the_same_names(tmp_path):
    first = image_folder(tmp_path / "first", 4)
    fit(tiny_config(tmp_path / "runs", **FOLDER_RUN, data_root=str(first)))
    other = image_folder(tmp_path / "other", 4, seed=1)
    with pytest.raises(DataMismatchError, match=r"other.*set run_name="):
        fit(tiny_config(tmp_path / "runs", **FOLDER_RUN, data_root=str(other)))
    # The same folder with its pictures replaced in place is refused too, with a message about the change.
    shutil.rmtree(first)
    shutil.copytree(other, first)
    with pytest.raises(DataMismatchError, match="the data there changed"):
        fit(tiny_config(tmp_path / "runs", **FOLDER_RUN, data_root=str(first)))


@pytest.mark.slow
def test_pretrained_run_directory_loads_its_own_checkpoint_and_checks_the_run_id(tmp_path):
    first = tiny_config(tmp_path / "runs", "pretrain", epochs=1, seed=1)
    second = tiny_config(tmp_path / "runs", "pretrain", epochs=1, seed=2)
    fit(first), fit(second)
    moved = tmp_path / "elsewhere" / run_dir(first).name
    shutil.copytree(run_dir(first), moved)
    # Another run's checkpoint now sits where the first run's config.json says its checkpoint is.
    shutil.copy(run_dir(second) / "checkpoints" / "checkpoint-last.pt",
                run_dir(first) / "checkpoints" / "checkpoint-last.pt")

    _, info = load_backbone(tiny_config(tmp_path / "probe", "linprobe", pretrained=str(moved)))
    assert info["pretrained"].startswith(str(moved)) and info["pretrain_run"] == run_dir(first).name
    with pytest.raises(CheckpointError, match=rf"belongs to run {run_dir(second).name}.*is run "
                                              rf"{run_dir(first).name}"):
        load_backbone(tiny_config(tmp_path / "probe", "linprobe", pretrained=str(run_dir(first))))
    (moved / "config.json").write_text('{"run_id": "x", "con')  # truncated by a kill
    with pytest.raises(CheckpointError, match=r"config.json' is damaged"):
        load_backbone(tiny_config(tmp_path / "probe", "linprobe", pretrained=str(moved)))


@pytest.mark.slow
def test_a_partial_metrics_line_or_a_damaged_summary_is_named_and_the_run_goes_on(tmp_path, capsys):
    config = tiny_config(tmp_path / "runs", "pretrain", epochs=1)
    summary = fit(config)
    folder = run_dir(config)
    metrics = (folder / "metrics.jsonl").read_text()
    (folder / "metrics.jsonl").write_text(metrics + '{"epoch": 2, "optimizer_steps": 9, "lr"')  # cut by a kill
    (folder / "summary.json").write_text('{"status": "fini')
    again = fit(config)
    notices = capsys.readouterr().err
    assert "summary.json is damaged" in notices and "incomplete last line 2" in notices
    volatile = ("session_wall_time_s", "session_images_per_s")
    assert {k: v for k, v in again.items() if k not in volatile} == \
        {k: v for k, v in summary.items() if k not in volatile}
    assert (folder / "metrics.jsonl").read_text() == metrics
    assert json.loads((folder / "summary.json").read_text())["status"] == "finished"

    (folder / "metrics.jsonl").write_text('{"epoch": 1, "lr\n' + metrics)  # damage before the last line
    (folder / "summary.json").unlink()
    with pytest.raises(ValueError, match=r"metrics.jsonl line 1 is damaged .*remove that line"):
        fit(config)


def test_deleting_the_lock_file_does_not_let_a_second_trainer_in(tmp_path):
    with RunLock(tmp_path / "run"):
        (tmp_path / "run" / ".lock").unlink()  # what people do with "stale" locks
        with pytest.raises(RunLockedError, match=r"in use by another process \(its details in .lock are missing"):
            RunLock(tmp_path / "run").acquire()
    with RunLock(tmp_path / "run"):  # released on exit: can be taken again
        pass


def test_sighup_saves_a_checkpoint_and_exits_75_like_sigterm(tmp_path):
    worker = Path(__file__).resolve().parents[1] / "engine_worker.py"
    job = {"out_dir": str(tmp_path), "section": "pretrain", "overrides": {"epochs": 1}, "signal_at_step": 3,
           "signal": "SIGHUP"}
    result = subprocess.run([sys.executable, str(worker), json.dumps(job)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == EXIT_PREEMPTED, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"interrupted": "SIGHUP", "optimizer_steps": 3}
    assert (run_dir(tiny_config(tmp_path, "pretrain", epochs=1)) / "checkpoints" / "checkpoint-last.pt").is_file()


@pytest.mark.slow
def test_after_a_full_disk_following_the_advice_resumes_from_the_intact_checkpoint(tmp_path, monkeypatch):
    config = tiny_config(tmp_path / "runs", "pretrain", epochs=2)
    real_save, saves = kamim_lib.checkpoint.torch.save, []

    def full_at_the_second_save(state, stream):
        saves.append(state["progress"]["epoch"])
        if len(saves) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(state, stream)

    monkeypatch.setattr(kamim_lib.checkpoint.torch, "save", full_at_the_second_save)
    with pytest.raises(CheckpointWriteError, match=r"previous checkpoint is intact.*set checkpoint_dir to a larger "
                                                   r"disk.*run the same command again; the run resumes"):
        fit(config)
    monkeypatch.setattr(kamim_lib.checkpoint.torch, "save", real_save)

    larger = tmp_path / "larger_disk"
    epochs_trained = []
    summary = fit(tiny_config(tmp_path / "runs", "pretrain", epochs=2, checkpoint_dir=str(larger)),
                  on_step=lambda info: epochs_trained.append(info["epoch"]))
    assert set(epochs_trained) == {1}  # epoch 1 (0-based 0) was not trained again
    assert summary["status"] == "finished" and summary["checkpoint"].startswith(str(larger))
    lines = (run_dir(config) / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


@pytest.mark.slow
def test_out_of_memory_is_one_line_with_the_fix_and_the_last_checkpoint_intact(tmp_path):
    config = tiny_config(tmp_path / "runs", "pretrain", epochs=2)

    def allocate_too_much(info):
        if info["epoch"] == 1:  # in epoch 2, after epoch 1's checkpoint: a real CPU allocator failure
            torch.empty(2 ** 50, dtype=torch.uint8)

    with pytest.raises(TrainingOutOfMemoryError) as error:
        fit(config, on_step=allocate_too_much)
    message = str(error.value)
    assert isinstance(error.value, ValueError) and "\n" not in message  # the CLI: one line, exit code 2
    assert "out of memory in pretrain of model=vit_nano at batch_size=16, precision=auto" in message
    assert "lower batch_size" in message and "is intact and the same command resumes from it" in message
    assert load_checkpoint(run_dir(config) / "checkpoints" / "checkpoint-last.pt")["progress"]["epoch"] == 1
    assert fit(config)["status"] == "finished"


def with_newer_torch_format(path):
    """Rewrite a torch.save file as a newer torch would write it (a file-format version above what torch reads)."""
    original = zipfile.ZipFile(path).infolist(), zipfile.ZipFile(path)
    newer = path.with_suffix(".newer")
    with zipfile.ZipFile(newer, "w") as archive:
        for info in original[0]:
            data = original[1].read(info.filename)
            archive.writestr(info, b"99\n" if info.filename.endswith("/version") else data)
    newer.replace(path)


@pytest.mark.slow
def test_a_newer_torch_checkpoint_says_upgrade_torch_never_delete_it(tmp_path):
    config = tiny_config(tmp_path / "runs", "pretrain", epochs=1)
    fit(config)
    (run_dir(config) / "summary.json").unlink()
    with_newer_torch_format(run_dir(config) / "checkpoints" / "checkpoint-last.pt")
    with pytest.raises(CheckpointTooNewError) as error:
        fit(config)
    assert "written by a newer torch (file format 99" in str(error.value) and "upgrade torch" in str(error.value)
    assert "delete" not in str(error.value) and "truncated" not in str(error.value)


@pytest.mark.parametrize("case", ["random", "empty", "directory", "newer", "pickle", "not_kamim"])
def test_load_checkpoint_tells_unreadable_files_apart(tmp_path, case):
    path = tmp_path / "checkpoint.pt"
    expected = {"random": r"not a file torch.save wrote \(it starts with bytes",
                "empty": r"the file is empty \(0 bytes",
                "directory": r"is a directory; name the file, e.g. .*checkpoints/checkpoint-last.pt",
                "newer": r"written by a newer torch .*upgrade torch",
                "pickle": r"holds Python objects other than tensors and plain containers \(it refers to pathlib",
                "not_kamim": r"is not a kamim checkpoint"}[case]
    if case == "random":
        path.write_bytes(np.random.default_rng(0).bytes(1000))
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "directory":
        path = tmp_path
    elif case == "newer":
        torch.save({"format": "kamim-checkpoint", "version": 1}, path)
        with_newer_torch_format(path)
    elif case == "pickle":
        torch.save({"weights": Path("a")}, path)  # a Python object the safe loader refuses
    else:
        torch.save({"weights": torch.zeros(2)}, path)
    kind = FileNotFoundError if case == "directory" else CheckpointError
    with pytest.raises(kind, match=expected):
        load_checkpoint(path)


@pytest.mark.slow
def test_resuming_with_another_precision_is_refused_and_config_json_is_kept(tmp_path):
    config = tiny_config(tmp_path / "runs", "pretrain", epochs=1, precision="fp32")
    fit(config)
    (run_dir(config) / "summary.json").unlink()  # as if stopped before the end
    with pytest.raises(CheckpointError, match=r"with precision=bf16: the run was trained with precision=fp32 so "
                                              r"far\. Set precision=fp32 to resume it, or set run_name="):
        fit(tiny_config(tmp_path / "runs", "pretrain", epochs=1, precision="bf16"))
    assert json.loads((run_dir(config) / "config.json").read_text())["config"]["precision"] == "fp32"
    assert fit(config)["status"] == "finished"
