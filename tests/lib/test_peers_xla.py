"""SemanticMIM pretraining and PSS fine-tuning on XLA (PJRT_DEVICE=CPU, SPMD over virtual devices), in the shared
SPMD worker process (see test_engine_xla.py): the XLA run matches one CPU process on the global batch."""
import pytest

torch_xla = pytest.importorskip("torch_xla")
pytestmark = [pytest.mark.xla, pytest.mark.slow]

from test_engine_xla import DEVICES, cpu_reference  # noqa: E402


def _same_training(spmd_fits, tmp_path, name: str) -> tuple[dict, dict]:
    on_cpu = cpu_reference(tmp_path, name)
    on_xla = spmd_fits.summary(name)
    assert on_xla["derived"]["num_replicas"] == DEVICES
    assert on_xla["status"] == "finished" and on_xla["optimizer_steps"] == on_cpu["optimizer_steps"] > 0
    return on_xla, on_cpu


@pytest.mark.spmd_scenario("semanticmim_keypoint_weighting")
def test_semanticmim_pretraining_on_xla_matches_cpu(spmd_fits, tmp_path):
    on_xla, on_cpu = _same_training(spmd_fits, tmp_path, "semanticmim_keypoint_weighting")
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-4)


@pytest.mark.spmd_scenario("pss_cyclic_finetune")
def test_pss_finetuning_on_xla_matches_cpu(spmd_fits, tmp_path):
    on_xla, on_cpu = _same_training(spmd_fits, tmp_path, "pss_cyclic_finetune")
    assert on_xla["train_loss_first_epoch"] == pytest.approx(on_cpu["train_loss_first_epoch"], rel=1e-4)
    assert on_xla["val_top1"] == pytest.approx(on_cpu["val_top1"])
