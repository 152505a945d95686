"""`kamim rehearsal-data OUT_DIR`: writes both rehearsal roots and says how to use them; bad input is one line."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from kamim_paper.cli import build_parser, main
from kamim_paper.cli.errors import EXIT_USAGE


def _count_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*.JPEG"))


def test_writes_both_roots_and_prints_the_dry_run_command(tmp_path, capsys):
    out = tmp_path / "rehearsal"
    assert main(["rehearsal-data", str(out), "--imagenet-train-per-class", "1"]) == 0
    printed = capsys.readouterr().out
    command = next(line.strip() for line in printed.splitlines() if "kamim reproduce" in line)
    assert command == f"kamim reproduce --profile paper-dryrun --set data_root={out / 'imagenet'} " \
                      f"--set analysis_data_root={out / 'imagenette2-160'}"
    # The printed command is one `kamim` accepts, with both roots set (a single --set takes one NAME=VALUE).
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.profile == "paper-dryrun"
    assert args.overrides == [f"data_root={out / 'imagenet'}", f"analysis_data_root={out / 'imagenette2-160'}"]
    assert "1000 classes, train 1000, val 1000 images" in printed and "10 classes, train 20, val 3925" in printed
    assert _count_files(out / "imagenet" / "train") == 1000 and _count_files(out / "imagenette2-160" / "val") == 3925
    assert len(list((out / "imagenet" / "val").iterdir())) == 1000

    code = main(["rehearsal-data", str(out)])  # a second time: refused, nothing overwritten
    captured = capsys.readouterr()
    assert code == EXIT_USAGE and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and "already exists and is not an empty folder" in captured.err


@pytest.mark.parametrize("make_argv, expected", [
    (lambda t: [str(t / "file")], "is a file"),
    (lambda t: [str(t / "out"), "--imagenet-val-per-class", "0"], "imagenet_val_per_class must be an int >= 1"),
])
def test_bad_input_is_one_message_and_exit_2(make_argv, expected, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code = main(["rehearsal-data", *make_argv(tmp_path)])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE and expected in captured.err and "Traceback" not in captured.err
    assert not (tmp_path / "out" / "imagenet").exists()
