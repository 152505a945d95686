"""The method / masking-strategy seam: a method and a strategy defined here, in the test file, train through the
unchanged engine; run ids cover only the options of the run's own plug-ins; the built-ins are registry entries."""
import dataclasses
import json

import pytest
import torch

from kamim_lib.config import ConfigError, load_config, run_dir, run_id
from kamim_lib.data import normalize_on_device
from kamim_lib.engine import build_task, fit
from kamim_lib.masking import MASKING_STRATEGIES, MaskingStrategy, list_masking_strategies, register_masking
from kamim_lib.methods import METHODS, Method, get_method, list_methods, register_method
from kamim_lib.runtime import Runtime

from engine_fixtures import tiny_config


class ToyMeanColour(Method):
    """Predict every masked pixel; loss = squared error of the mean colour of the masked region (a toy)."""

    name = "toy_mean_colour"

    def loader_targets(self, crop):
        return {"mean_colour": crop.float().mean(dim=(1, 2)) / 255.0}  # (3,) per sample, made in the workers

    def loss(self, model, batch, runtime, *, seed):
        images = normalize_on_device(batch["image"])
        with runtime.autocast():
            reconstruction = model(images, batch["mask"]).float()
        assert batch["mean_colour"].shape == (images.shape[0], 3)  # the loader target arrived
        pixel_mask = batch["mask"].repeat_interleave(self.patch_size, 1).repeat_interleave(self.patch_size, 2)
        weights = pixel_mask[:, None].float()
        predicted = (reconstruction * weights).sum(dim=(2, 3)) / weights.sum(dim=(2, 3))
        wanted = (images * weights).sum(dim=(2, 3)) / weights.sum(dim=(2, 3))
        return (predicted - wanted).square().mean()


class ToyLeftColumns(MaskingStrategy):
    """Mask the left half of the token grid, drawn on the device from the batch shape."""

    name = "toy_left_half"
    on_device = True

    def device_mask(self, batch, model, runtime, *, seed, epoch):
        grid = self.geometry.token_grid
        mask = torch.zeros(batch["image"].shape[0], grid, grid, dtype=torch.int64, device=batch["image"].device)
        mask[:, :, : grid // 2] = 1
        return mask


@pytest.fixture
def toy_plugins():
    """Register the toy method and strategy for one test (other tests see the built-in lists only)."""
    register_method(ToyMeanColour)
    register_masking(ToyLeftColumns)
    yield
    METHODS.unregister(ToyMeanColour.name)
    MASKING_STRATEGIES.unregister(ToyLeftColumns.name)


def test_a_method_and_a_strategy_defined_in_a_test_file_train_through_the_engine(tmp_path, toy_plugins):
    assert "toy_mean_colour" in list_methods() and "toy_left_half" in list_masking_strategies()
    config = tiny_config(tmp_path, method="toy_mean_colour", masking="toy_left_half", epochs=2)
    task = build_task(config, Runtime("cpu"))
    sample = task.train_dataset[0][0]
    assert "mean_colour" in sample and "mask" not in sample  # the loader target is there; the mask is drawn later
    summary = fit(config)
    assert summary["status"] == "finished" and summary["optimizer_steps"] == 2 * 8
    assert summary["train_loss_last_epoch"] < summary["train_loss_first_epoch"]
    assert run_id(config).startswith("toy_mean_colour+toy_left_half-vit_nano-digits-")
    saved = json.loads((run_dir(config) / "config.json").read_text())
    assert saved["derived"]["method"] == "toy_mean_colour" and saved["derived"]["masking"] == "toy_left_half"


def test_the_simmim_run_id_ignores_kamim_and_masking_options(tmp_path):
    simmim = tiny_config(tmp_path, method="simmim")
    assert run_id(tiny_config(tmp_path, method="simmim", temperature=0.5, detector="orb",
                              attmask_mode="low", density_beta=2.0)) == run_id(simmim)
    assert run_id(tiny_config(tmp_path, method="simmim", target="norm_pix")) != run_id(simmim)  # its own option
    kamim = tiny_config(tmp_path, method="kamim")
    assert run_id(tiny_config(tmp_path, method="kamim", temperature=0.5)) != run_id(kamim)
    assert run_id(tiny_config(tmp_path, method="kamim", attmask_mode="low")) == run_id(kamim)
    attmask = tiny_config(tmp_path, method="simmim", masking="attmask", img_size=64)
    assert run_id(tiny_config(tmp_path, method="simmim", masking="attmask", img_size=64,
                              attmask_mode="low")) != run_id(attmask)


def test_every_plugin_option_is_a_flat_key_with_its_owner_checks():
    assert list_methods()[:2] == ("simmim", "kamim") and list_masking_strategies()[0] == "random"
    kamim_keys = {field.name for field in dataclasses.fields(get_method("kamim").Options)}
    assert {"detector", "temperature", "weight_patch_size", "keypoints_on", "loss_normalize", "target"} <= kamim_keys
    with pytest.raises(ConfigError) as error:
        load_config(None, ["method=kamim", "keypoints_on=device", "detector=sift", "masking=atmask"])
    message = str(error.value)
    assert "did you mean 'attmask'" in message
    with pytest.raises(ConfigError, match="keypoints_on='device' supports detector"):
        load_config(None, ["method=kamim", "keypoints_on=device", "detector=sift"])
    with pytest.raises(ConfigError, match="needs a ViT"):
        load_config(None, ["masking=attmask", "model=swin_t"])


def test_late_plugins_may_not_add_configuration_keys():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class LateOptions:
        late_option: int = 1

    with pytest.raises(ValueError, match="KAMIM_PLUGINS"):
        @register_method
        class Late(Method):  # noqa: F841
            name = "toy_late"
            Options = LateOptions
