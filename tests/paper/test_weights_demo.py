"""`kamim weights-demo` and `keypoint_weights` end to end on bundled photos."""
import json

import pytest
import torch

from kamim_paper.cli import main
from kamim_lib.keypoints import keypoint_map
from kamim_lib.sample_photos import sample_photo_batch
from kamim_lib.weighting import density_to_weights, keypoint_density, keypoint_weights


@pytest.fixture(scope="module")
def photos():
    return sample_photo_batch(("astronaut", "coffee"), size=96)


def test_keypoint_weights_compose_map_density_and_temperature(photos):
    weights = keypoint_weights(photos, patch_size=8, temperature=0.5)
    expected = density_to_weights(keypoint_density(keypoint_map(photos), 8), 0.5)
    assert weights.shape == (2, 12, 12)
    assert torch.equal(weights, expected)
    assert torch.allclose(weights.amin(dim=(1, 2)), torch.ones(2))
    torch_backend = keypoint_weights(photos, patch_size=8, temperature=0.5, backend="torch")
    assert torch.equal(weights, torch_backend)


@pytest.mark.parametrize("kwargs, name", [
    (dict(detector="harris"), "detector"),
    (dict(temperature=0.0), "temperature"),
    (dict(patch_size=7), "patch_size"),
    (dict(mode="rings"), "mode"),
    (dict(backend="torch", detector="orb"), "detector"),
])
def test_invalid_arguments_name_themselves(photos, kwargs, name):
    with pytest.raises(ValueError, match=name):
        keypoint_weights(photos, **kwargs)


@pytest.mark.parametrize("images, name", [
    (torch.zeros(1, 3, 32, 32), "images"),                     # float, not uint8
    (torch.zeros(1, 1, 32, 32, dtype=torch.uint8), "images"),  # one channel
])
def test_bad_images_are_rejected(images, name):
    with pytest.raises(ValueError, match=name):
        keypoint_weights(images)


def test_weights_demo_writes_figure_and_numbers(tmp_path, capsys):
    out = tmp_path / "fig.png"
    assert main(["weights-demo", "--out", str(out), "--photos", "astronaut", "rocket", "--img-size", "96"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    numbers = json.loads(out.with_suffix(".json").read_text())["per_image"]
    assert set(numbers) == {"astronaut", "rocket"}
    assert numbers["astronaut"]["keypoint_pixels"] > numbers["rocket"]["keypoint_pixels"] > 0
    # 96 px, 32-px cells: ceil(9 * 0.6) = 6 masked cells of 2 x 2 tokens
    assert numbers["astronaut"]["masked_tokens"] == 24


def test_weights_demo_reports_bad_input_without_traceback(tmp_path, capsys):
    assert main(["weights-demo", "--out", str(tmp_path / "x.png"), "--temperature", "-1"]) == 2
    assert "temperature" in capsys.readouterr().err
