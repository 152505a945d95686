"""Keypoint weights in the workers (OpenCV, per sample) and on the device (torch FAST, per batch) agree."""
import numpy as np
import pytest
import torch
from PIL import Image

from device_params import CPU_AND_CUDA
from kamim_lib.data import PretrainTransform, build_dataset, pretrain_collate
from kamim_lib.masking import RandomCellMask
from kamim_lib.methods.kamim import KeypointSpec, WorkerKeypointWeights, device_keypoint_weights
from kamim_lib.weighting import keypoint_weights


def _textured(seed, size=80):
    """A photo-like image with corners: random blocks, upscaled."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(10, 10, 3), dtype=np.uint8)
    return Image.fromarray(blocks).resize((size, size), Image.NEAREST)


@pytest.mark.parametrize("mode", ["faithful", "points"])
def test_worker_and_device_weights_are_equal_for_the_same_crops(mode):
    spec = KeypointSpec(detector="fast", mode=mode, patch_size=8, temperature=0.25)
    transform = PretrainTransform(img_size=64, targets=WorkerKeypointWeights(spec))
    samples = [transform(_textured(seed)) for seed in range(6)]
    crops = torch.stack([sample["image"] for sample in samples])
    worker = torch.stack([sample["weights"] for sample in samples])
    device = device_keypoint_weights(crops, spec)
    assert worker.shape == device.shape == (6, 8, 8)
    assert worker.dtype == device.dtype == torch.float32
    assert worker.amax() > 1.0  # the test would be empty if no keypoints were found
    torch.testing.assert_close(device, worker, rtol=0, atol=1e-6)


def test_worker_weights_are_computed_on_the_augmented_crop():
    spec = KeypointSpec()
    sample = PretrainTransform(img_size=48, targets=WorkerKeypointWeights(spec))(_textured(0, size=120))
    expected = keypoint_weights(sample["image"][None], detector="fast", patch_size=8, temperature=0.25,
                                mode="faithful", backend="opencv")[0]
    assert sample["weights"].shape == (6, 6)
    torch.testing.assert_close(sample["weights"], expected.float())
    torch.testing.assert_close(sample["weights"].amin(), torch.tensor(1.0))  # min W = 1 per image (SPEC 1.3)


def test_loader_with_worker_keypoints_and_masks():
    spec = KeypointSpec(detector="fast", patch_size=16, temperature=0.5)
    masker = RandomCellMask(input_size=32, mask_patch_size=16, model_patch_size=8, mask_ratio=0.6)
    dataset = build_dataset("synthetic", num_samples=8, image_size=40,
                            transform=PretrainTransform(img_size=32, mask_generator=masker,
                                                                 targets=WorkerKeypointWeights(spec)))
    batch = pretrain_collate([dataset[index] for index in range(8)])
    assert batch["weights"].shape == (8, 2, 2) and batch["weights"].dtype == torch.float32
    torch.testing.assert_close(device_keypoint_weights(batch["image"], spec), batch["weights"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("detector", ["sift", "orb"])
def test_detectors_without_a_device_backend_are_refused(detector):
    with pytest.raises(ValueError, match="workers"):
        device_keypoint_weights(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), KeypointSpec(detector=detector))


@pytest.mark.parametrize("device", CPU_AND_CUDA)
def test_device_path_matches_the_workers(device):
    from kamim_lib.data import MixupCutmix, normalize_on_device

    spec = KeypointSpec()
    samples = [PretrainTransform(img_size=64, targets=WorkerKeypointWeights(spec))(_textured(seed)) for seed in range(4)]
    crops = torch.stack([sample["image"] for sample in samples]).to(device)
    weights = device_keypoint_weights(crops, spec)
    worker = torch.stack([s["weights"] for s in samples])
    assert weights.device.type == device and worker.amax() > 1.0
    # rtol: weights reach ~30 and the GPU sums the densities in another float32 order than OpenCV's CPU path
    # (measured on an H100: 1.9e-6 off at a weight of ~31, i.e. 6e-8 relative).
    torch.testing.assert_close(weights.cpu(), worker, rtol=1e-6, atol=1e-6)
    mixed, targets = MixupCutmix(num_classes=3, seed=0)(normalize_on_device(crops),
                                                        torch.tensor([0, 1, 2, 0]).to(device))
    assert mixed.device.type == targets.device.type == device and mixed.shape == (4, 3, 64, 64)
