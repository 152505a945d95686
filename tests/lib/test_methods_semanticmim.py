"""``method=semanticmim`` through the plug-in seam: losses, KAMIM weights, pretraining and reuse of the encoder."""
from __future__ import annotations

import pytest
import torch

from engine_fixtures import tiny_config
from kamim_lib.config import ConfigError
from kamim_lib.engine import fit
from kamim_lib.engine.run_dir import RunDirectory
from kamim_lib.masking import random_cell_masks
from kamim_lib.methods import build_method
from kamim_lib.runtime import create_runtime

SEMANTIC = {"method": "semanticmim", "mask_patch_size": 16}


def _batch(batch: int = 4, size: int = 32):
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, generator=generator)
    images[:, :, :, : size // 2] = 128  # a flat half: keypoint weights differ between the halves
    mask = random_cell_masks(batch, input_size=size, mask_patch_size=16, model_patch_size=16, mask_ratio=0.5,
                             generator=generator)
    return {"image": images, "mask": mask}


def _loss(config, batch, seed: int = 0):
    torch.manual_seed(0)
    method = build_method(config, patch_size=16)
    model = method.build_model(config)
    full = {**batch, **({"weights": torch.stack([method.loader_targets(crop)["weights"] for crop in batch["image"]])}
                        if method.keypoint_weights is not None else {})}
    return method.loss(model, full, create_runtime("cpu", "fp32"), seed=seed), model


def test_pixel_loss_is_simmim_l1_on_the_masked_patches(tmp_path):
    config = tiny_config(tmp_path, **SEMANTIC)
    batch = _batch()
    loss, model = _loss(config, batch)
    from kamim_lib.data import normalize_on_device

    images = normalize_on_device(batch["image"])
    with torch.no_grad():
        output = model(images, batch["mask"])
    patches = images.reshape(4, 3, 2, 16, 2, 16).permute(0, 2, 4, 1, 3, 5).reshape(4, 4, 768)
    target = torch.gather(patches, 1, output.masked_index.unsqueeze(-1).expand(-1, -1, 768))
    torch.testing.assert_close(loss, (output.predictions - target).abs().mean())


def test_keypoint_weights_reuse_kamim(tmp_path):
    batch = _batch()
    plain, _ = _loss(tiny_config(tmp_path, **SEMANTIC), batch)
    flat, _ = _loss(tiny_config(tmp_path, **SEMANTIC, semanticmim_weighting="keypoints", temperature=1e9), batch)
    sharp, _ = _loss(tiny_config(tmp_path, **SEMANTIC, semanticmim_weighting="keypoints", temperature=0.05), batch)
    torch.testing.assert_close(flat, plain)  # T → ∞: every weight is 1, SimMIM's loss
    assert sharp > 1.5 * plain  # sharp weights emphasise the textured half (normalize="mask": scale grows)


def test_hog_target_and_proxy_default(tmp_path):
    config = tiny_config(tmp_path, **SEMANTIC, semanticmim_target="hog")
    loss, model = _loss(config, _batch())
    assert torch.isfinite(loss) and model.num_proxies == 8 and model.head.out_features == 108
    loss.backward()
    assert model.encoder.patch_embed.proj.weight.grad.abs().sum() > 0


def test_layer_norms_use_the_originals_eps(tmp_path):
    """Every LayerNorm of the pretraining model has mmpretrain's eps 1e-6 (the original's), unless overridden."""
    model = build_method(config := tiny_config(tmp_path, **SEMANTIC), patch_size=16).build_model(config)
    eps = {module.eps for module in model.modules() if isinstance(module, torch.nn.LayerNorm)}
    assert eps == {1e-6}
    assert sum(isinstance(module, torch.nn.LayerNorm) for module in model.extra_layers.modules()) == 2 * len(model.extra_layers)
    hf = tiny_config(tmp_path, **SEMANTIC, semanticmim_layer_norm_eps=1e-12)
    assert {module.eps for module in build_method(hf, patch_size=16).build_model(hf).modules()
            if isinstance(module, torch.nn.LayerNorm)} == {1e-12}
    with pytest.raises(ConfigError, match="semanticmim_layer_norm_eps"):
        tiny_config(tmp_path, **SEMANTIC, semanticmim_layer_norm_eps=0.0)


def test_bad_combinations_are_named(tmp_path):
    with pytest.raises(ConfigError, match="weights the pixel loss"):
        tiny_config(tmp_path, **SEMANTIC, semanticmim_target="hog", semanticmim_weighting="keypoints")
    with pytest.raises(ConfigError, match="needs a ViT"):
        tiny_config(tmp_path, method="semanticmim", model="swin_nano", mask_patch_size=16)
    with pytest.raises(ConfigError, match="attmask_mode='hint' reveals some"):
        tiny_config(tmp_path, **SEMANTIC, device="xla", masking="attmask", attmask_mode="hint")


def test_pretrain_then_finetune_and_probe_the_plain_vit(tmp_path):
    config = tiny_config(tmp_path, **SEMANTIC, epochs=3, lr=2e-3)
    summary = fit(config)
    assert summary["train_loss_last_epoch"] < summary["train_loss_first_epoch"]
    assert summary["derived"]["semanticmim_proxies"] == 1
    pretrained = str(RunDirectory(config).path)
    finetune = fit(tiny_config(tmp_path, "finetune", pretrained=pretrained, epochs=1))
    assert finetune["derived"]["pretrain_method"] == "semanticmim"
    assert finetune["derived"]["unused_pretraining_weights"] == ["extra_layers", "head"]
    probe = fit(tiny_config(tmp_path, "linprobe", pretrained=pretrained, epochs=1, knn_k=0))
    assert probe["derived"]["unused_pretraining_weights"] == ["extra_layers", "head"]
