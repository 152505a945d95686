"""Architecture descriptions (frozen dataclasses) for the SimMIM encoders, with their invariants checked.

``ViTArch`` and ``SwinArch`` hold every number that shapes a model; the registry (``registry.py``) names the
paper's sizes and ``create_model(name, **overrides)`` replaces fields with ``dataclasses.replace``. Each class's
``validate()`` raises ``ValueError`` naming the offending field, so a typo in a notebook parameter fails before
any weight is allocated.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Tuple

from kamim_lib._validation import check_divisible, check_positive

# HF ViTConfig.layer_norm_eps; timm's ViT uses 1e-6, which would shift the original checkpoints' outputs.
HF_VIT_LAYER_NORM_EPS = 1e-12
# mmpretrain's ViT (norm_cfg LN eps 1e-6), which yyk-wew/SemanticMIM's backbone and extra layers use.
MMPRETRAIN_VIT_LAYER_NORM_EPS = 1e-6
# HF Swin uses 1e-5 everywhere (config default for blocks/final norm, nn.LayerNorm default for the rest).
HF_SWIN_LAYER_NORM_EPS = 1e-5


def _check_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


def _check_int_tuple(name: str, value) -> None:
    if not isinstance(value, tuple) or not value:
        raise ValueError(f"{name} must be a non-empty tuple of positive ints, got {value!r}.")
    for item in value:
        _check_int(f"{name} entries", item)


def _check_common(arch) -> None:
    _check_int("img_size", arch.img_size)
    _check_int("patch_size", arch.patch_size)
    _check_int("in_chans", arch.in_chans)
    check_positive("mlp_ratio", arch.mlp_ratio)
    if not isinstance(arch.final_norm, bool):
        raise ValueError(f"final_norm must be True (HF, the original) or False (Microsoft SimMIM), "
                         f"got {arch.final_norm!r}.")
    rate = arch.drop_path_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"drop_path_rate must be a number in [0, 1), got {rate!r}.")
    check_divisible("img_size", arch.img_size, "patch_size", arch.patch_size)


@dataclass(frozen=True)
class ViTArch:
    """A plain ViT encoder (HF ``ViTModel`` numerics) with a SimMIM decoder of stride ``patch_size``.

    Attributes:
        img_size: input side H in pixels (square inputs).
        patch_size: patch side p; the token grid is (H/p) x (H/p) and the decoder stride is p.
        embed_dim: token width D.
        depth: number of transformer blocks.
        num_heads: attention heads per block (D % num_heads == 0).
        mlp_ratio: MLP hidden width / D.
        in_chans: image channels (3); the decoder predicts the same number.
        final_norm: keep the final LayerNorm on the encoder output (True = original HF; False = Microsoft SimMIM).
        drop_path_rate: stochastic depth rate (0 for pretraining, as the original).
        relative_position_bias: add a learned BEiT-style relative position bias per block (PSS fine-tuning uses
            it); off by default, so the weights are exactly those of HF ``ViTModel`` and the original checkpoints.
        layer_norm_eps: eps of every LayerNorm (HF's 1e-12 for KAMIM's original; SemanticMIM's mmpretrain ViT
            uses 1e-6).
    """

    img_size: int = 192
    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    in_chans: int = 3
    final_norm: bool = True
    drop_path_rate: float = 0.0
    relative_position_bias: bool = False
    layer_norm_eps: float = HF_VIT_LAYER_NORM_EPS

    family = "vit"

    @property
    def token_grid(self) -> int:
        """Tokens per side of the input grid (the mask grid g)."""
        return self.img_size // self.patch_size

    @property
    def encoder_stride(self) -> int:
        """Pixels per final token: the decoder's PixelShuffle factor."""
        return self.patch_size

    @property
    def num_features(self) -> int:
        """Width of the encoder output."""
        return self.embed_dim

    def validate(self) -> "ViTArch":
        _check_common(self)
        _check_int("embed_dim", self.embed_dim)
        _check_int("depth", self.depth)
        _check_int("num_heads", self.num_heads)
        check_divisible("embed_dim", self.embed_dim, "num_heads", self.num_heads)
        if not isinstance(self.relative_position_bias, bool):
            raise ValueError(f"relative_position_bias must be True or False, got {self.relative_position_bias!r}.")
        check_positive("layer_norm_eps", self.layer_norm_eps)
        return self


@dataclass(frozen=True)
class SwinArch:
    """A Swin encoder (HF ``SwinModel`` numerics) with a SimMIM decoder of stride patch_size · 2^(stages-1).

    Attributes:
        img_size: input side H in pixels; must be divisible by the encoder stride so the decoder
            reconstructs exactly H x H.
        patch_size: patch side p of the first stage (4); the token (mask) grid is (H/p) x (H/p).
        embed_dim: width of stage 1; stage i has embed_dim · 2^i.
        depths: blocks per stage.
        num_heads: heads per stage (len(num_heads) == len(depths); each stage width divisible by its heads).
        window_size: attention window side (6 at 192 px, as the original). A stage whose grid is not larger
            than the window uses one window of the whole grid and no shift (HF and timm alike).
        mlp_ratio: MLP hidden width / stage width.
        in_chans: image channels (3).
        final_norm: keep the final LayerNorm (True = original HF; False = no final norm).
        drop_path_rate: stochastic depth rate (0 for pretraining, as the original).
    """

    img_size: int = 192
    patch_size: int = 4
    embed_dim: int = 128
    depths: Tuple[int, ...] = (2, 2, 18, 2)
    num_heads: Tuple[int, ...] = (4, 8, 16, 32)
    window_size: int = 6
    mlp_ratio: float = 4.0
    in_chans: int = 3
    final_norm: bool = True
    drop_path_rate: float = 0.0

    family = "swin"

    @property
    def token_grid(self) -> int:
        """Tokens per side of the first stage (the mask grid g)."""
        return self.img_size // self.patch_size

    @property
    def encoder_stride(self) -> int:
        """Pixels per final token (32 for patch 4 and four stages): the decoder's PixelShuffle factor."""
        return self.patch_size * 2 ** (len(self.depths) - 1)

    @property
    def num_features(self) -> int:
        """Width of the encoder output (the last stage)."""
        return self.embed_dim * 2 ** (len(self.depths) - 1)

    def validate(self) -> "SwinArch":
        _check_common(self)
        _check_int("embed_dim", self.embed_dim)
        _check_int("window_size", self.window_size)
        _check_int_tuple("depths", self.depths)
        _check_int_tuple("num_heads", self.num_heads)
        if len(self.depths) != len(self.num_heads):
            raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} must have one entry per stage.")
        for stage, heads in enumerate(self.num_heads):
            check_divisible(f"stage {stage} width (embed_dim·2^{stage})", self.embed_dim * 2 ** stage,
                            f"num_heads[{stage}]", heads)
        check_divisible("img_size", self.img_size, "the Swin encoder stride (patch_size·2^(stages-1))",
                        self.encoder_stride)
        return self


def arch_field_names(arch) -> Tuple[str, ...]:
    """The names ``create_model`` accepts as overrides for this architecture."""
    return tuple(field.name for field in fields(arch))
