"""Reliability, round 2 (issue 22): a finished run made with other code is reused with a notice naming both commits,
and the unreadable files a run skipped (on_corrupt="skip") are counted in its summary.json."""
import json

import numpy as np
from PIL import Image

from kamim_lib.data import corrupt
from kamim_lib.engine import fit
from kamim_lib.engine.run_dir import ENV_FILE

from engine_fixtures import tiny_config

ONE_EPOCH = {"epochs": 1, "warmup_epochs": 0.5, "max_train_samples": 32}


def test_a_finished_run_made_with_other_code_is_reused_with_a_notice_naming_both_commits(tmp_path, capsys):
    from kamim_lib.provenance import git_commit

    config = tiny_config(tmp_path, **ONE_EPOCH)
    first = fit(config)
    capsys.readouterr()
    again = fit(config)  # the same code: reused without a word
    assert again == first and "other code" not in capsys.readouterr().err
    env_path = tmp_path / "pretrain" / first["run_id"] / ENV_FILE
    env = json.loads(env_path.read_text())
    assert env["git_commit"] == git_commit()
    env["git_commit"] = "0123456789ab"  # trained at another commit
    env_path.write_text(json.dumps(env))
    assert fit(config) == first  # still reused: the run id says the configuration is the same
    notice = [line for line in capsys.readouterr().err.splitlines() if "other code" in line]
    assert len(notice) == 1
    assert "commit 0123456789ab" in notice[0] and f"this checkout is at {git_commit()}" in notice[0]
    assert str(tmp_path / "pretrain" / first["run_id"]) in notice[0]


def image_folder_with_unreadable_files(root, unreadable: int):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in ("a", "b"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(8):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    broken = [root / "train" / "a" / f"{index}.png" for index in range(unreadable)]
    for path in broken:
        path.write_bytes(b"\x89PNG cut short")
    return broken


def test_unreadable_files_skipped_are_counted_in_the_run_summary(tmp_path):
    broken = image_folder_with_unreadable_files(tmp_path / "data", 3)
    assert 3 < corrupt.MAX_CONSECUTIVE_CORRUPT and 3 <= corrupt.LISTED_IN_SUMMARY  # within the documented limits
    config = tiny_config(tmp_path / "runs", dataset="imagefolder", data_root=str(tmp_path / "data"), epochs=1,
                         warmup_epochs=0.5, max_train_samples=None, batch_size=4, num_workers=1)
    summary = fit(config)
    run = tmp_path / "runs" / "pretrain" / summary["run_id"]
    stored = json.loads((run / "summary.json").read_text())
    assert summary["unreadable_files_skipped"] == stored["unreadable_files_skipped"] == 3  # from a loader worker
    assert sorted(stored["unreadable_files"]) == sorted(str(path) for path in broken)
    assert len((run / "unreadable_files.txt").read_text().splitlines()) == 3


def test_a_run_without_unreadable_files_says_none_were_skipped(tmp_path):
    summary = fit(tiny_config(tmp_path, **ONE_EPOCH))
    assert summary["unreadable_files_skipped"] == 0 and "unreadable_files" not in summary
