"""The `xla_mode` key and the guards of the XLA multi-process launcher (no torch_xla needed: the runs themselves
are in test_engine_xla_multiprocess.py)."""
import pytest

from kamim_lib.config import XLA_MODES, ConfigError, describe_config, load_config, run_id
from kamim_lib.engine import fit, fit_in_xla_processes, launches_xla_processes
from kamim_lib.runtime import XLA_MODE_CHOICES, create_runtime

from engine_fixtures import tiny_config


def test_xla_mode_defaults_to_spmd_is_documented_and_not_part_of_the_run_id():
    assert XLA_MODES == XLA_MODE_CHOICES == ("spmd", "multiprocess")
    config = load_config()
    assert config.xla_mode == "spmd"
    assert run_id(load_config(None, ["xla_mode=multiprocess"])) == run_id(config)
    for section in ("pretrain", "finetune", "linprobe"):
        help_text = describe_config(section)
        assert "xla_mode (str, default spmd)" in help_text and "Choices: spmd, multiprocess" in help_text
        assert "tested here with one process" in help_text.replace("\n    ", " ")


def test_unknown_xla_mode_is_rejected_by_name():
    with pytest.raises(ConfigError, match="xla_mode='mp' is not allowed; choose one of spmd, multiprocess"):
        load_config(None, ["xla_mode=mp"])
    with pytest.raises(ValueError, match="xla_mode='mp' is not supported"):
        create_runtime("cpu", "fp32", xla_mode="mp")


def test_only_xla_with_multiprocess_launches_replicas(tmp_path):
    assert launches_xla_processes(tiny_config(tmp_path, device="xla", xla_mode="multiprocess"))
    assert not launches_xla_processes(tiny_config(tmp_path, device="xla"))
    assert not launches_xla_processes(tiny_config(tmp_path, device="cpu", xla_mode="multiprocess"))
    with pytest.raises(ValueError, match="needs device='xla' and xla_mode='multiprocess', got device='cpu'"):
        fit_in_xla_processes(tiny_config(tmp_path))


def test_the_callback_must_be_picklable_to_reach_the_replicas(tmp_path):
    config = tiny_config(tmp_path, device="xla", xla_mode="multiprocess")
    with pytest.raises(ValueError, match="on_step must be picklable"):
        fit_in_xla_processes(config, on_step=lambda info: None)
    with pytest.raises(ValueError, match="on_step must be picklable"):
        fit(config, on_step=lambda info: None)  # fit hands multi-process XLA configs to the launcher


def test_xla_mode_is_ignored_off_xla(tmp_path):
    summary = fit(tiny_config(tmp_path, device="cpu", xla_mode="multiprocess", epochs=1, max_train_samples=32))
    assert summary["status"] == "finished" and summary["derived"]["world_size"] == 1
