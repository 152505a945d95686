"""The torch FAST map on an XLA device: same result, one compiled graph, no device-to-host transfer."""
import numpy as np
import pytest
import torch

torch_xla = pytest.importorskip("torch_xla")
metrics = pytest.importorskip("torch_xla.debug.metrics")

from keypoint_photos import NATURAL_PHOTOS, load_images  # noqa: E402
from kamim_lib.keypoints import keypoint_map  # noqa: E402

pytestmark = pytest.mark.xla


def _images(seed: int) -> torch.Tensor:
    """Four random 96 x 96 crops of scikit-image photos."""
    rng = np.random.default_rng(seed)
    photos = list(load_images(NATURAL_PHOTOS).values())
    crops = []
    for index in rng.choice(len(photos), 4, replace=False):
        photo = photos[index]
        top, left = (int(rng.integers(0, side - 96 + 1)) for side in photo.shape[:2])
        crops.append(photo[top:top + 96, left:left + 96])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("mode", ["faithful", "points"])
def test_xla_map_equals_opencv_without_recompiling_or_syncing(mode):
    device = torch_xla.device()
    first = _images(0).to(device)
    torch_xla.sync()
    result = keypoint_map(first, mode=mode, backend="torch")
    torch_xla.sync()
    metrics.clear_all()
    second_images = _images(1)
    second = second_images.to(device)
    second_result = keypoint_map(second, mode=mode, backend="torch")
    torch_xla.sync()
    # New pixels, same shapes: the cached graph is reused and nothing comes back to the host before we ask.
    assert metrics.counter_value("UncachedCompile") in (None, 0)
    assert metrics.metric_data("TransferFromDeviceTime") is None
    assert torch.equal(result.cpu(), keypoint_map(_images(0), mode=mode, backend="opencv"))
    assert torch.equal(second_result.cpu(), keypoint_map(second_images, mode=mode, backend="opencv"))
    assert second_result.cpu().sum() > 0
