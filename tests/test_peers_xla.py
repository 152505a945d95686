"""SemanticMIM pretraining and PSS fine-tuning on XLA (PJRT_DEVICE=CPU, SPMD over virtual devices), each in a fresh
process (see test_engine_xla.py): the XLA run matches one CPU process on the global batch."""
import pytest

torch_xla = pytest.importorskip("torch_xla")
pytestmark = [pytest.mark.xla, pytest.mark.slow]

from kamim_lib.engine import fit  # noqa: E402

from engine_fixtures import tiny_config  # noqa: E402
from test_engine_xla import fit_in_subprocess  # noqa: E402


def _same_training(tmp_path, section: str, **common) -> tuple[dict, dict]:
    on_xla = fit_in_subprocess(tmp_path / "xla", section, device="xla", batch_size=16, **common)
    replicas = on_xla["derived"]["num_replicas"]
    on_cpu = fit(tiny_config(tmp_path / "cpu", section, device="cpu", batch_size=16 * replicas, **common))
    assert on_xla["status"] == "finished" and on_xla["optimizer_steps"] == on_cpu["optimizer_steps"] > 0
    return on_xla, on_cpu


def test_semanticmim_pretraining_on_xla_matches_cpu(tmp_path):
    common = {"method": "semanticmim", "mask_patch_size": 16, "semanticmim_weighting": "keypoints",
              "keypoints_on": "device", "epochs": 1, "precision": "fp32", "num_threads": None}
    on_xla, on_cpu = _same_training(tmp_path, "pretrain", **common)
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-4)


def test_pss_finetuning_on_xla_matches_cpu(tmp_path):
    common = {"pretrained": "scratch", "pss": "cyclic", "relative_position_bias": True, "epochs": 1,
              "precision": "fp32", "num_threads": None}
    on_xla, on_cpu = _same_training(tmp_path, "finetune", **common)
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-4)
    assert on_xla["val_top1"] == pytest.approx(on_cpu["val_top1"])
