"""Fine-tuning / probing defaults follow the original (SPEC 1.6); the previous behaviours stay options.

Head: PyTorch's nn.Linear initialisation (option trunc_normal). Validation: fp32 (option autocast). Clipping: 1.0
(the original's TPU scripts). Evaluation geometry: squash (option shorter_side_crop). RandomErasing: black
(options noise, none).
"""
import math

import pytest
import torch
from torch import nn

from kamim_lib.config import ConfigError, describe_config, load_config
from kamim_lib.engine import ClassifierTask, FinetuneClassifier, LinearProbe, evaluate_classifier, extract_features
from kamim_lib.engine.heads import linear_head
from kamim_lib.models import create_model
from kamim_lib.runtime import Runtime

from engine_fixtures import tiny_config

FAITHFUL_DEFAULTS = {"clip_grad": 1.0, "eval_resize": "squash", "random_erasing": "black", "head_init": "pytorch",
                     "eval_precision": "fp32", "lr_schedule": "original", "drop_last": False, "finetune_crop": "resize"}


@pytest.mark.parametrize("section", ["finetune", "linprobe"])
def test_classifier_defaults_are_the_originals(section):
    config = load_config({"pretrained": "scratch"}, section=section)
    assert {key: getattr(config, key) for key in FAITHFUL_DEFAULTS} == FAITHFUL_DEFAULTS
    text = describe_config(section)
    for key, value in FAITHFUL_DEFAULTS.items():
        assert f"{key} (" in text, key
    pretrain = load_config(None, section="pretrain")
    assert pretrain.crop_antialias is False and pretrain.lr_schedule == "original" and pretrain.clip_grad == 1.0


@pytest.mark.parametrize("key, value, allowed", [
    ("eval_resize", "crop", "squash, shorter_side_crop"), ("random_erasing", "zero", "black, noise, none"),
    ("head_init", "zeros", "pytorch, trunc_normal"), ("eval_precision", "bf16", "fp32, autocast"),
    ("lr_schedule", "cosine", "original, warmup_then_cosine"),
])
def test_unknown_option_values_are_named_with_the_allowed_ones(key, value, allowed):
    with pytest.raises(ConfigError, match=f"{key}={value!r} is not allowed; choose one of {allowed}"):
        load_config({"pretrained": "scratch"}, [f"{key}={value}"], section="finetune")


def test_pytorch_head_init_is_nn_linear_default_and_trunc_normal_is_the_option():
    torch.manual_seed(0)
    expected = nn.Linear(64, 10)
    torch.manual_seed(0)
    head = linear_head(64, 10).requires_grad_(False)
    assert torch.equal(head.weight, expected.weight) and torch.equal(head.bias, expected.bias)
    bound = 1 / math.sqrt(64)
    assert float(head.weight.abs().max()) <= bound and float(head.bias.abs().max()) > 0
    assert float(head.weight.std()) == pytest.approx(bound / math.sqrt(3), rel=0.1)  # uniform(-b, b)
    small = linear_head(64, 10, head_init="trunc_normal").requires_grad_(False)
    assert torch.equal(small.bias, torch.zeros(10)) and float(small.weight.std()) == pytest.approx(0.01, rel=0.15)
    with pytest.raises(ValueError, match="head_init='zeros' is not supported"):
        linear_head(64, 10, head_init="zeros")


@pytest.mark.parametrize("head_init, zero_bias", [("pytorch", False), ("trunc_normal", True)])
def test_classifier_heads_follow_head_init(tmp_path, head_init, zero_bias):
    encoder = create_model("vit_nano", img_size=32).encoder
    for model in (FinetuneClassifier(encoder, 10, head_init=head_init),
                  LinearProbe(encoder, 10, layer=2, head_init=head_init)):
        assert bool((model.head.bias == 0).all()) is zero_bias
    task = ClassifierTask(tiny_config(tmp_path, "finetune", pretrained="scratch", head_init=head_init), Runtime("cpu"))
    assert bool((task.model.head.bias == 0).all()) is zero_bias


class AutocastProbe(nn.Module):
    """Logits = inputs; records whether each forward ran under CPU autocast."""

    def __init__(self):
        super().__init__()
        self.autocast_seen = []

    def forward(self, images):
        self.autocast_seen.append(torch.is_autocast_enabled("cpu"))
        return images


@pytest.mark.parametrize("precision, autocast", [("fp32", False), ("autocast", True)])
def test_validation_runs_in_fp32_unless_autocast_is_asked_for(precision, autocast):
    runtime = Runtime("cpu", autocast_dtype=torch.bfloat16)  # a runtime that trains under bf16 autocast
    model = AutocastProbe()
    batches = [(torch.eye(4), torch.arange(4))]
    result = evaluate_classifier(model, batches, runtime, precision=precision)
    assert model.autocast_seen == [autocast] and result["top1"] == 100.0
    extract_features(model, batches, runtime, precision=precision)
    assert model.autocast_seen == [autocast, autocast]
    with pytest.raises(ValueError, match="precision='bf16' is not supported"):
        evaluate_classifier(model, batches, runtime, precision="bf16")
