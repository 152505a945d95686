"""Registry, architecture validation, output shapes and parameter counts of kamim_lib.models."""
import pytest
import torch

from kamim_lib.models import MaskedImageModel, create_model, list_models, model_arch

PAPER_SIZES = ("vit_t", "vit_s", "vit_b", "swin_t", "swin_b")
# Encoder parameters in millions, as the original's README states them (SPEC §1.5).
README_PARAMS_M = {"vit_t": 5.5, "vit_s": 21.6, "vit_b": 85.7, "swin_t": 27.5, "swin_b": 86.7}


def _meta_model(name, **overrides):
    """Built on the meta device (no memory, no init time); older timm (e.g. 1.0.3) cannot, then on the CPU."""
    try:
        with torch.device("meta"):
            return create_model(name, **overrides)
    except RuntimeError:
        return create_model(name, **overrides)


def _encoder_params(model):
    return sum(p.numel() for p in model.encoder.parameters())


def test_registry_lists_paper_and_cpu_sizes():
    assert list_models() == ["vit_t", "vit_s", "vit_b", "swin_t", "swin_b", "vit_nano", "vit_micro", "vit_micro12",
                             "swin_nano"]


def test_unknown_name_lists_registered_names():
    with pytest.raises(ValueError, match=r"'vit_xl'.*vit_t, vit_s, vit_b, swin_t, swin_b, vit_nano, vit_micro, vit_micro12, swin_nano"):
        create_model("vit_xl")


def test_unknown_override_is_named_with_the_allowed_ones():
    with pytest.raises(ValueError, match=r"'patchsize'.*allowed overrides: img_size, patch_size"):
        create_model("vit_nano", patchsize=8)
    with pytest.raises(ValueError, match="'window_size'"):
        create_model("vit_nano", window_size=7)  # a Swin-only field


@pytest.mark.parametrize("name, overrides, fragment", [
    ("vit_nano", {"img_size": 70}, "img_size=70 must be divisible by patch_size=16"),
    ("swin_nano", {"img_size": 66}, "img_size=66 must be divisible by patch_size=4"),
    ("swin_nano", {"img_size": 48}, "encoder stride"),  # 48 % 4 == 0 but the decoder needs 32 | 48
    ("vit_nano", {"num_heads": 3}, "embed_dim=64 must be divisible by num_heads=3"),
    ("swin_nano", {"num_heads": (1, 2, 4)}, "one entry per stage"),
    ("vit_nano", {"final_norm": "yes"}, "final_norm"),
    ("vit_nano", {"drop_path_rate": 1.5}, "drop_path_rate"),
    ("vit_nano", {"depth": 0}, "depth must be a positive int"),
])
def test_invalid_overrides_raise_a_clear_error(name, overrides, fragment):
    with pytest.raises(ValueError, match=fragment):
        model_arch(name, **overrides)


def test_overrides_are_applied_and_lists_accepted():
    arch = model_arch("swin_nano", depths=[1, 1, 1, 1], img_size=96)
    assert arch.depths == (1, 1, 1, 1) and arch.img_size == 96
    model = create_model("swin_nano", depths=[1, 1, 1, 1], img_size=96)
    assert [len(stage.blocks) for stage in model.encoder.layers] == [1, 1, 1, 1]
    assert model_arch("vit_b").img_size == 192  # the registry entry itself is unchanged


@pytest.mark.parametrize("name", PAPER_SIZES)
def test_encoder_parameter_counts_match_the_readme(name):
    count = _encoder_params(_meta_model(name))
    assert abs(count / 1e6 - README_PARAMS_M[name]) < 0.1, count


def test_vit_b_parameter_count_by_formula():
    # patch conv + CLS + mask token + positions (145 slots) + 12 blocks + final LayerNorm
    d, n, p = 768, 144, 16
    block = (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 4 * d
    expected = (3 * p * p * d + d) + d + d + (n + 1) * d + 12 * block + 2 * d
    assert _encoder_params(_meta_model("vit_b")) == expected == 85_759_488


@pytest.mark.parametrize("name", PAPER_SIZES)
def test_encoder_parameter_count_equals_hf_model(name):
    transformers = pytest.importorskip("transformers")
    arch = model_arch(name)
    if arch.family == "vit":
        config = transformers.ViTConfig(image_size=192, patch_size=16, hidden_size=arch.embed_dim,
                                        num_hidden_layers=arch.depth, num_attention_heads=arch.num_heads,
                                        intermediate_size=4 * arch.embed_dim)
        model_class = transformers.ViTModel
    else:
        config = transformers.SwinConfig(image_size=192, patch_size=4, embed_dim=arch.embed_dim,
                                         depths=list(arch.depths), num_heads=list(arch.num_heads), window_size=6)
        model_class = transformers.SwinModel
    with torch.device("meta"):
        hf_encoder = model_class(config, add_pooling_layer=False, use_mask_token=True)
    assert _encoder_params(_meta_model(name)) == sum(p.numel() for p in hf_encoder.parameters())


@pytest.mark.parametrize("name", PAPER_SIZES)
def test_paper_sizes_reconstruct_full_images(name):
    model = _meta_model(name)
    g = model.token_grid
    assert (model.img_size, g) == (192, 12 if name.startswith("vit") else 48)
    device = model.encoder.mask_token.device
    images = torch.zeros(1, 3, 192, 192, device=device)
    mask = torch.zeros(1, g, g, dtype=torch.int64, device=device)
    with torch.no_grad():
        assert model(images, mask).shape == (1, 3, 192, 192)


@pytest.mark.parametrize("name, embed_dim, stride, prefix", [
    ("vit_t", 192, 16, 1), ("vit_s", 384, 16, 1), ("vit_b", 768, 16, 1), ("swin_t", 768, 32, 0),
    ("swin_b", 1024, 32, 0), ("vit_nano", 64, 16, 1), ("swin_nano", 128, 32, 0),
])
def test_model_attributes(name, embed_dim, stride, prefix):
    model = _meta_model(name)
    assert isinstance(model, MaskedImageModel) and model.name == name
    assert model.embed_dim == embed_dim and model.encoder_stride == stride
    assert model.encoder.num_prefix_tokens == prefix
    assert model.patch_size == (16 if name.startswith("vit") else 4)
    assert model.token_grid == model.img_size // model.patch_size
    assert model.decoder.proj.out_channels == stride ** 2 * 3


@pytest.mark.parametrize("name", ["vit_nano", "swin_nano"])
def test_cpu_sizes_run_for_real(name):
    model = create_model(name)
    g = model.token_grid
    images = torch.randn(2, 3, model.img_size, model.img_size)
    mask = torch.randint(0, 2, (2, g, g))
    out = model(images, mask)
    assert out.shape == images.shape and torch.isfinite(out).all()


def test_vit_nano_has_a_block_8_probe():
    assert len(create_model("vit_nano").encoder.blocks) >= 8


@pytest.mark.parametrize("name, img_size", [("vit_b", 64), ("swin_t", 96)])
def test_big_sizes_run_for_real_at_a_small_input(name, img_size):
    model = create_model(name, img_size=img_size)
    g = model.token_grid
    out = model(torch.randn(1, 3, img_size, img_size), torch.ones(1, g, g, dtype=torch.int64))
    assert out.shape == (1, 3, img_size, img_size) and torch.isfinite(out).all()
