"""The core tensor ops on an XLA device (run by `python3 tasks.py test-xla`: torch_xla on PJRT_DEVICE=CPU)."""
import pytest
import torch

torch_xla = pytest.importorskip("torch_xla")
pytestmark = pytest.mark.xla

from kamim_lib.losses import masked_l1  # noqa: E402
from kamim_lib.masking import random_cell_masks  # noqa: E402
from kamim_lib.weighting import density_to_weights, keypoint_density  # noqa: E402


@pytest.fixture(scope="module")
def xla():
    return torch_xla.device()


def test_device_masks_on_xla_have_exact_counts(xla):
    masks = random_cell_masks(8, input_size=192, mask_patch_size=32, model_patch_size=16, mask_ratio=0.6, device=xla)
    assert masks.device.type == "xla"
    counts = masks.sum(dim=(1, 2)).cpu()
    assert torch.all(counts == 88)


def test_weighting_and_loss_match_cpu(xla):
    kmap = (torch.rand(2, 1, 32, 32) > 0.8).float()
    pred, target = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    mask = random_cell_masks(2, input_size=32, mask_patch_size=8, model_patch_size=4, mask_ratio=0.5)
    weights = density_to_weights(keypoint_density(kmap, 8), 0.25)
    expected = masked_l1(pred, target, mask, 4, weight=weights)
    on_xla = masked_l1(pred.to(xla), target.to(xla), mask.to(xla), 4,
                       weight=density_to_weights(keypoint_density(kmap.to(xla), 8), 0.25))
    assert torch.allclose(on_xla.cpu(), expected, rtol=1e-5)
