"""SimMIM models: timm ViT/Swin encoders with a mask token, the SimMIM decoder, a registry, and the loader
for the original's HF-transformers checkpoints (SPEC §1.5).

Quick use::

    from kamim_lib.models import create_model, load_pretrained
    model = create_model("vit_b")                     # or vit_t, vit_s, swin_t, swin_b, vit_nano, swin_nano
    recon = model(images, mask)                       # (B,3,H,W) from normalised images and a (B,g,g) mask
    inter = model.encoder.forward_intermediates(images, return_attention=True)
    block8 = inter.hidden_states[8]                   # linear-probe features (B, 1+N, D), no LayerNorm
    model = load_pretrained("checkpoint_109.pth", "vit_b")   # original HF checkpoint, strict
"""
from kamim_lib.models.architectures import SwinArch, ViTArch
from kamim_lib.models.decoder import SimMIMDecoder
from kamim_lib.models.hf_convert import (
    checkpoint_family,
    convert_hf_state_dict,
    convert_hf_swin_state_dict,
    convert_hf_vit_state_dict,
    detect_checkpoint_format,
)
from kamim_lib.models.intermediates import EncoderIntermediates
from kamim_lib.models.loading import (
    LoadReport,
    StateDictMismatchError,
    load_pretrained,
    load_state_dict_into,
    read_state_dict,
    unwrap_state_dict,
)
from kamim_lib.models.mim import MaskedImageModel, build_encoder
from kamim_lib.models.registry import create_model, list_models, model_arch
from kamim_lib.models.swin import MaskedSwinEncoder
from kamim_lib.models.vit import MaskedViTEncoder

__all__ = [
    "EncoderIntermediates", "LoadReport", "MaskedImageModel", "MaskedSwinEncoder", "MaskedViTEncoder",
    "SimMIMDecoder", "StateDictMismatchError", "SwinArch", "ViTArch", "build_encoder", "checkpoint_family",
    "convert_hf_state_dict", "convert_hf_swin_state_dict", "convert_hf_vit_state_dict", "create_model",
    "detect_checkpoint_format", "list_models", "load_pretrained", "load_state_dict_into", "model_arch",
    "read_state_dict", "unwrap_state_dict",
]
