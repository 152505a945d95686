"""``MaskedImageModel``: encoder with a mask token + SimMIM decoder (the original's ``*ForMaskedImageModeling``)."""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import nn

from kamim_lib.models.architectures import SwinArch, ViTArch
from kamim_lib.models.decoder import SimMIMDecoder
from kamim_lib.models.swin import MaskedSwinEncoder
from kamim_lib.models.vit import MaskedViTEncoder
from kamim_lib.models.weight_init import init_linear_and_norm


def build_encoder(arch: Union[ViTArch, SwinArch]) -> Union[MaskedViTEncoder, MaskedSwinEncoder]:
    """The encoder for an architecture description."""
    if isinstance(arch, ViTArch):
        return MaskedViTEncoder(arch)
    if isinstance(arch, SwinArch):
        return MaskedSwinEncoder(arch)
    raise ValueError(f"arch must be a ViTArch or a SwinArch, got {type(arch).__name__}.")


class MaskedImageModel(nn.Module):
    """SimMIM model: ``model(images, mask)`` reconstructs the whole image; the loss supervises masked pixels.

    Args:
        arch: a ``ViTArch`` or ``SwinArch``.
        name: the registry name it was created from (used in messages and checkpoints), or None.

    Attributes:
        encoder: ``MaskedViTEncoder`` or ``MaskedSwinEncoder`` (``forward_features``,
            ``forward_intermediates``, ``num_prefix_tokens``, ``mask_token``).
        decoder: ``SimMIMDecoder``.
        arch, name, family ("vit" or "swin").
        img_size: input side H.
        patch_size: encoder patch side p; masks are (B, H/p, H/p).
        token_grid: H/p.
        embed_dim: width of the encoder output (768 ViT-B, 1024 Swin-B).
        encoder_stride: decoder upsampling factor (16 ViT, 32 Swin).
    """

    def __init__(self, arch: Union[ViTArch, SwinArch], *, name: Optional[str] = None) -> None:
        super().__init__()
        self.arch = arch
        self.name = name
        self.family = arch.family
        self.encoder = build_encoder(arch)
        self.decoder = SimMIMDecoder(in_dim=arch.num_features, stride=arch.encoder_stride, out_chans=arch.in_chans)
        init_linear_and_norm(self.decoder)
        self.img_size = arch.img_size
        self.patch_size = arch.patch_size
        self.token_grid = arch.token_grid
        self.embed_dim = arch.num_features
        self.encoder_stride = arch.encoder_stride

    def forward(self, images: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Reconstruct the images.

        Args:
            images: ImageNet-normalised float (B, C, H, W), H = W = img_size.
            mask: token mask (B, g, g) (or (B, g·g)), 1 = masked, g = img_size / patch_size; None = nothing masked.

        Returns:
            (B, C, H, W) reconstruction in the normalised space of ``images``.
        """
        features = self.encoder.forward_features(images, mask)
        patch_tokens = features[:, self.encoder.num_prefix_tokens:]
        return self.decoder(patch_tokens, self.encoder.feature_grid)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, arch={self.arch}"
