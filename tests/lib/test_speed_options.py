"""Speed options (kamim_lib.runtime.speed, kamim_lib.runtime.compile, fused AdamW): what each resolves to, that
they reach the DataLoader/optimiser/backends, and that they do not change the numbers beyond float rounding."""
import copy
import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from kamim_lib.config import ConfigError, load_config
from kamim_lib.runtime.compile import compile_function, compile_model
from kamim_lib.engine.optim import build_optimizer
from kamim_lib.methods.kamim import resolve_keypoints_on
from kamim_lib.runtime import (describe_speed, fused_optimizer_enabled, loader_kwargs,
                               resolve_switch, tf32_matmuls)

from engine_fixtures import tiny_config


def config(**overrides):
    return load_config({"model": "vit_nano", "dataset": "digits", "img_size": 32, "batch_size": 8,
                        "effective_batch_size": None, "pretrain": {"mask_patch_size": 16}, **overrides},
                       section="pretrain")


@pytest.mark.parametrize("value, device, expected", [("auto", "cuda", True), ("auto", "cpu", False),
                                                     ("auto", "xla", False), ("on", "cpu", True),
                                                     ("off", "cuda", False)])
def test_switches_resolve_auto_to_cuda_only(value, device, expected):
    assert resolve_switch("tf32", value, device) is expected


def test_bad_switch_values_are_config_errors_naming_the_key():
    with pytest.raises(ConfigError, match="tf32='yes' is not allowed; choose one of auto, on, off"):
        config(tf32="yes")
    with pytest.raises(ConfigError, match="prefetch_factor=0 must be >= 1"):
        config(prefetch_factor=0)


def test_loader_kwargs_follow_the_keys():
    assert loader_kwargs(config(num_workers=3), "cuda") == {"num_workers": 3, "pin_memory": True,
                                                            "persistent_workers": True, "prefetch_factor": 2}
    assert loader_kwargs(config(num_workers=3, prefetch_factor=6, persistent_workers=False, pin_memory="off"),
                         "cuda") == {"num_workers": 3, "pin_memory": False, "persistent_workers": False,
                                     "prefetch_factor": 6}
    # pinning is for CUDA copies only; no workers -> no prefetch or persistence (torch refuses them)
    assert loader_kwargs(config(num_workers=0, pin_memory="on"), "cpu") == {
        "num_workers": 0, "pin_memory": False, "persistent_workers": False, "prefetch_factor": None}
    assert loader_kwargs(config(num_workers=2), "cuda", persistent=False)["persistent_workers"] is False
    DataLoader(list(range(4)), batch_size=2, **loader_kwargs(config(num_workers=1, prefetch_factor=3), "cpu"))


def test_tf32_context_sets_and_restores_the_backend_flags():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with tf32_matmuls(not before[0]):
        assert torch.backends.cuda.matmul.allow_tf32 is (not before[0])
        assert torch.backends.cudnn.allow_tf32 is (not before[0])
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_fused_adamw_takes_the_same_steps_as_the_default():
    torch.manual_seed(0)
    first = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4))
    models = [first, copy.deepcopy(first)]
    initial = [parameter.detach().clone() for parameter in first.parameters()]
    optimizers = [build_optimizer(model, lr=1e-2, weight_decay=0.05, betas=(0.9, 0.999), fused=fused)
                  for model, fused in zip(models, (False, True))]
    assert optimizers[1].defaults["fused"] is True and not optimizers[0].defaults["fused"]
    data = torch.randn(32, 8)
    for _ in range(5):
        for model, optimizer in zip(models, optimizers):
            model(data).square().mean().backward()
            optimizer.step()
            optimizer.zero_grad()
    for before, default, fused in zip(initial, models[0].parameters(), models[1].parameters()):
        assert not torch.allclose(default, before)  # the steps did move the weights
        torch.testing.assert_close(fused, default, rtol=1e-5, atol=1e-6)


def test_fused_optimizer_resolution():
    assert fused_optimizer_enabled(config(), "cuda") and not fused_optimizer_enabled(config(), "cpu")
    assert not fused_optimizer_enabled(config(), "xla")
    # A CPU-tuned "on" (params/train/smoke.yaml) still runs on a TPU, unfused, and says so.
    with pytest.warns(UserWarning, match="fused_optimizer='on' has no XLA kernel"):
        assert not fused_optimizer_enabled(config(fused_optimizer="on"), "xla")


def test_keypoints_on_auto_means_device_on_cuda_for_fast_only():
    assert resolve_keypoints_on("auto", "cuda", "fast") == "device"
    assert resolve_keypoints_on("auto", "cuda", "sift") == "workers"
    assert resolve_keypoints_on("auto", "cpu", "fast") == "workers"
    assert resolve_keypoints_on("workers", "cuda", "fast") == "workers"


def test_compile_is_the_identity_when_off_and_refused_on_xla():
    model = torch.nn.Linear(2, 2)
    assert compile_model(model, enabled=False, device_type="cuda") is model
    assert compile_function(len, enabled=False, device_type="cpu") is len
    with pytest.raises(ValueError, match="compile=true does not apply to device='xla'"):
        compile_model(model, enabled=True, device_type="xla")
    with pytest.raises(ValueError, match="compile_keypoints=true does not apply"):
        compile_function(len, enabled=True, device_type="xla")


def test_compiled_model_and_keypoint_weights_equal_eager():
    """Graph capture (dynamo + AOT autograd, the part shared by every backend) on the CPU; inductor's own code
    generation is exercised by the device suite (and on the CPU by its --smoke run)."""
    from kamim_lib.methods.kamim import KeypointSpec, device_keypoint_weights
    from kamim_lib.models import create_model

    torch.manual_seed(0)
    model = create_model("vit_nano", img_size=32)
    images = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, 2, 2, dtype=torch.int64)
    mask[:, 0] = 1
    compiled = compile_model(model, enabled=True, device_type="cpu", backend="aot_eager")
    torch.testing.assert_close(compiled(images, mask), model(images, mask))
    crops = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    weights = compile_function(device_keypoint_weights, enabled=True, device_type="cpu", backend="aot_eager")
    torch.testing.assert_close(weights(crops, KeypointSpec()), device_keypoint_weights(crops, KeypointSpec()))


def test_fit_applies_the_speed_keys_and_records_them(tmp_path):
    from kamim_lib.engine import fit

    tf32_before = torch.backends.cuda.matmul.allow_tf32
    summary = fit(tiny_config(tmp_path, epochs=1, max_train_samples=32, fused_optimizer="on", tf32="on",
                              num_workers=1, prefetch_factor=3, compile_keypoints=False, keypoints_on="device"))
    assert torch.backends.cuda.matmul.allow_tf32 is tf32_before  # process-wide flag restored after the run
    env = json.loads((Path(summary["run_dir"]) / "env.json").read_text())
    assert env["speed"] == {"tf32": True, "fused_optimizer": True, "compile": False, "pin_memory": False,
                            "persistent_workers": True, "prefetch_factor": 3}
    assert describe_speed(tiny_config(tmp_path), "cuda")["pin_memory"] is True
