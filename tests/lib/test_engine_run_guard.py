"""Run identity covers the data (fingerprint in data.json), one process per run directory (lock), stale temporary
files removed on the next start, non-finite-loss advice that matches the cause."""
import json
import math
import shutil

import pytest
import torch

from kamim_lib.config import run_dir
from kamim_lib.data import build_dataset
from kamim_lib.data.fingerprint import data_fingerprint, same_data
from kamim_lib.engine import fit
from kamim_lib.engine.run_lock import RunLock, RunLockedError
from kamim_lib.engine.session import DataMismatchError
from kamim_lib.engine.training_state import non_finite_advice
from kamim_lib.weighting import max_weight_temperature_problem

from data_fixtures import FOLDER_RUN, write_image_folder as image_folder
from engine_fixtures import tiny_config

def test_fingerprint_covers_the_index_not_the_location(tmp_path):
    first = image_folder(tmp_path / "first", 3)
    moved = tmp_path / "moved"
    shutil.copytree(first, moved)
    other = image_folder(tmp_path / "other", 3, seed=1)
    (other / "train" / "a" / "2.png").rename(other / "train" / "a" / "9.png")  # same count, another file name

    def fingerprint(root):
        return data_fingerprint(build_dataset("imagefolder", root, "train"), name="imagefolder", root=root,
                                options={})

    original = fingerprint(first)
    assert original["length"] == 6 and original["root"] == str(first.resolve())
    assert original["index_covers"].startswith("samples (6 entries)")
    assert same_data(original, fingerprint(moved)) and fingerprint(moved)["root"] != original["root"]
    assert not same_data(original, fingerprint(other))
    digits = data_fingerprint(build_dataset("digits", split="train"), name="digits", root=None, options={})
    assert digits["root"] is None and digits["length"] == 1442 and "images" in digits["index_covers"]


@pytest.mark.slow
def test_the_same_configuration_on_other_data_is_refused_and_moved_data_is_accepted(tmp_path):
    first = image_folder(tmp_path / "first", 8)
    config = tiny_config(tmp_path / "runs", **FOLDER_RUN, data_root=str(first))
    summary = fit(config)
    stored = json.loads((run_dir(config) / "data.json").read_text())
    assert stored["length"] == 16 and stored["root"] == str(first.resolve())

    other = image_folder(tmp_path / "other", 9, seed=1)  # same configuration, other data
    with pytest.raises(DataMismatchError, match=r"was trained on imagefolder at .*first, 16 images.*this "
                                                r"configuration's data is imagefolder at .*other, 18 images.*"
                                                r"set run_name="):
        fit(tiny_config(tmp_path / "runs", **FOLDER_RUN, data_root=str(other)))
    (run_dir(config) / "summary.json").unlink()  # as if it had stopped mid-way: resuming checks the data too
    with pytest.raises(DataMismatchError, match="other, 18 images"):
        fit(tiny_config(tmp_path / "runs", **FOLDER_RUN, data_root=str(other)))
    summary = fit(config)
    moved = tmp_path / "moved"
    shutil.copytree(first, moved)
    assert fit(tiny_config(tmp_path / "runs", **FOLDER_RUN, data_root=str(moved))) == summary  # same data, new place
    separate = fit(tiny_config(tmp_path / "runs", **FOLDER_RUN, data_root=str(other), run_name="other-data"))
    assert separate["status"] == "finished" and separate["run_dir"] != summary["run_dir"]


def test_lock_names_its_holder_and_is_released(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match="in use by process"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released on exit: can be taken again
        pass


def test_stale_temporary_files_are_removed_on_the_next_start(tmp_path):
    config = tiny_config(tmp_path, epochs=1, warmup_epochs=0.5, max_train_samples=32)
    folder = run_dir(config)
    (folder / "checkpoints").mkdir(parents=True)
    stale = [folder / "checkpoints" / ".checkpoint-last.pt.k2j3h4.tmp", folder / ".metrics.abc.tmp"]
    for path in stale:
        path.write_bytes(b"half a write")
    keep = folder / "notes.txt"
    keep.write_text("mine")
    fit(config)
    assert not any(path.exists() for path in stale) and keep.exists()


def test_temperature_overflow_bound_is_where_float32_overflows():
    # exp(1/T) is the largest weight: finite at T = 0.0113, inf at T = 0.0112 (in float32 and in bf16).
    for dtype in (torch.float32, torch.bfloat16):
        assert math.isfinite(torch.exp(torch.tensor(1 / 0.0113, dtype=dtype)).item())
        assert math.isinf(torch.exp(torch.tensor(1 / 0.0112, dtype=dtype)).item())
    assert max_weight_temperature_problem(0.0113) is None and max_weight_temperature_problem(0.25) is None
    assert "overflows float32/bf16" in max_weight_temperature_problem(0.0112)


def test_non_finite_advice_names_the_kept_checkpoint_only_when_it_exists_and_blames_the_cause(tmp_path):
    checkpoint = tmp_path / "checkpoint-last.pt"
    small_t = tiny_config(tmp_path, method="kamim", temperature=0.02)
    advice = non_finite_advice(small_t, checkpoint)
    assert "no checkpoint had been saved yet" in advice and "last good checkpoint" not in advice
    assert "raise temperature" in advice and "Lower lr" not in advice
    checkpoint.write_bytes(b"x")
    advice = non_finite_advice(tiny_config(tmp_path, method="kamim", temperature=0.25), checkpoint)
    assert f"the last good checkpoint ({checkpoint}) was kept" in advice and "Lower lr" in advice
