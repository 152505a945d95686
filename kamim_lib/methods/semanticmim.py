"""SemanticMIM: masked prediction through a proxy-token bottleneck (PEERS §4; model in
:mod:`kamim_lib.models.semanticmim`).

Targets on the mask tokens only: ``pixels`` (the normalised image, L1 over masked pixels exactly as SimMIM, so
KAMIM's keypoint weights compose: ``semanticmim_weighting=keypoints``) or ``hog`` (MaskFeat's HOG of each masked
patch, L2; :mod:`kamim_lib.hog`). The paper's settings (PEERS §4.3): per-token masks (``mask_patch_size`` = the
model patch) at ratio 0.6 with 1 proxy (BEiT variant) or 0.8 with 8 proxies (MaskFeat/HOG variant); by default the
proxy count follows the target. Only the encoder is reused downstream; its weights load into the plain ViT.
"""
from __future__ import annotations

import dataclasses

import torch

from kamim_lib.data.normalization import normalize_on_device
from kamim_lib.hog import HOG_CELL_SIZE, HOG_WINDOW, hog_patch_targets, hog_target_dim
from kamim_lib.losses import masked_reconstruction_loss
from kamim_lib.masking.cells import num_masked_cells
from kamim_lib.models.architectures import MMPRETRAIN_VIT_LAYER_NORM_EPS
from kamim_lib.plugins import param

from kamim_lib.methods.base import Method
from kamim_lib.methods.kamim import KAMIM, KamimOptions, KeypointWeightOptions
from kamim_lib.methods.registry import register_method
from kamim_lib.models import model_arch
from kamim_lib.models.semanticmim import SemanticMIMModel
from kamim_lib.models.token_gather import gather_tokens

SEMANTICMIM_TARGETS = ("pixels", "hog")
SEMANTICMIM_WEIGHTINGS = ("none", "keypoints")
# Proxy tokens per target when semanticmim_proxies is none (PEERS §4.3: BEiT variant 1, MaskFeat variant 8).
DEFAULT_PROXIES = {"pixels": 1, "hog": 8}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SemanticMIMOptions(KeypointWeightOptions):
    """SemanticMIM's keys, plus KAMIM's keypoint-weight keys for ``semanticmim_weighting=keypoints``."""

    semanticmim_target: str = param("pixels", "what the mask tokens predict: pixels (normalised image, L1, as "
                                              "SimMIM) or hog (MaskFeat HOG per patch, L2)",
                                    choices=SEMANTICMIM_TARGETS)
    semanticmim_proxies: int | None = param(None, "proxy tokens n_p, the only path from visible to masked tokens "
                                                  "(none: 1 for pixels, 8 for hog, as the paper)", minimum=1)
    semanticmim_bottleneck: bool = param(True, "route the mask stream through the proxies (false: joint "
                                               "attention over [proxies; visible; mask tokens], the baseline)")
    semanticmim_layer_norm_eps: float = param(MMPRETRAIN_VIT_LAYER_NORM_EPS,
                                              "eps of every LayerNorm of the pretraining model (encoder, extra "
                                              "layers, final norm); the original's mmpretrain ViT uses 1e-6, "
                                              "KAMIM's HF ViT 1e-12", minimum=0.0, exclusive_minimum=True)
    semanticmim_weighting: str = param("none", "loss weights of the pixel target: none, or keypoints (KAMIM's "
                                               "keypoint-density weights, its detector/weight_patch_size/"
                                               "temperature keys)", choices=SEMANTICMIM_WEIGHTINGS)


def patches_to_image(patches: torch.Tensor, grid: int, patch_size: int, channels: int = 3) -> torch.Tensor:
    """(B, N, C·p·p) per-patch values (channel, row, column) -> (B, C, H, W) image, N = grid²."""
    batch = patches.shape[0]
    image = patches.reshape(batch, grid, grid, channels, patch_size, patch_size).permute(0, 3, 1, 4, 2, 5)
    return image.reshape(batch, channels, grid * patch_size, grid * patch_size)


def scatter_to_grid(values: torch.Tensor, index: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """(B, K, E) values at token positions ``index`` (B, K) -> (B, N, E), zeros elsewhere."""
    grid = values.new_zeros(values.shape[0], num_tokens, values.shape[-1])
    return grid.scatter(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]), values)


@register_method
class SemanticMIM(Method):
    """``method=semanticmim``: proxy-bottleneck masked prediction of pixels or HOG."""

    name = "semanticmim"
    summary = ("SemanticMIM (Yuan et al., 2024): a few proxy tokens are the only path from visible to masked "
               "tokens; targets pixels (L1) or HOG (L2) on the mask tokens")
    Options = SemanticMIMOptions

    def __init__(self, options: SemanticMIMOptions, *, img_size: int, patch_size: int):
        super().__init__(options, img_size=img_size, patch_size=patch_size)
        self.num_proxies = options.semanticmim_proxies or DEFAULT_PROXIES[options.semanticmim_target]
        self.keypoint_weights = None
        if options.semanticmim_weighting == "keypoints":
            # KAMIM's own weight computation (workers or device, shuffle control), not a copy of it.
            keypoint_keys = {field.name: getattr(options, field.name)
                             for field in dataclasses.fields(KeypointWeightOptions)}
            self.keypoint_weights = KAMIM(KamimOptions(**keypoint_keys), img_size=img_size, patch_size=patch_size)
        self.num_masked_tokens = None

    @classmethod
    def option_problems(cls, config) -> list[str]:
        problems = []
        if config.model.startswith("swin"):
            problems.append(f"method='semanticmim' needs a ViT (global proxy tokens); model={config.model!r} is a "
                            "Swin, choose a vit_* model")
        if config.device == "xla" and config.masking == "attmask" and config.attmask_mode == "hint":
            # On XLA the masked-token count is taken from the cell geometry (K cells); hint reveals some of them.
            problems.append("method='semanticmim' on device='xla' needs a mask with exactly ceil(c²·r) cells per "
                            "image; attmask_mode='hint' reveals some, use high/low or another device")
        if config.semanticmim_weighting == "keypoints":
            if config.semanticmim_target != "pixels":
                problems.append("semanticmim_weighting='keypoints' weights the pixel loss; set "
                                "semanticmim_target='pixels' or semanticmim_weighting='none'")
            problems += KAMIM.option_problems(config)
        if config.semanticmim_target == "hog":
            try:
                patch = model_arch(config.model).patch_size
            except ValueError:
                patch = None
            if patch is not None and patch % HOG_CELL_SIZE:
                problems.append(f"semanticmim_target='hog' needs a patch size divisible by the HOG cell "
                                f"({HOG_CELL_SIZE} px); model={config.model!r} has {patch}")
            if config.img_size % HOG_WINDOW:
                problems.append(f"semanticmim_target='hog' needs img_size divisible by the HOG window "
                                f"({HOG_WINDOW} px), got img_size={config.img_size}")
        return problems

    def out_dim(self) -> int:
        if self.options.semanticmim_target == "hog":
            return hog_target_dim(self.patch_size)
        return 3 * self.patch_size ** 2

    def build_model(self, config) -> torch.nn.Module:
        arch = model_arch(config.model, img_size=config.img_size, final_norm=config.final_norm,
                          layer_norm_eps=self.options.semanticmim_layer_norm_eps)
        # The random-cell geometry's masked-token count: passed to the model on XLA so no mask is read back.
        scale = (config.mask_patch_size // self.patch_size) ** 2
        self.num_masked_tokens = num_masked_cells(config.img_size, config.mask_patch_size, config.mask_ratio) * scale
        return SemanticMIMModel(arch, num_proxies=self.num_proxies, out_dim=self.out_dim(),
                                use_bottleneck=self.options.semanticmim_bottleneck, name=config.model)

    def crop_detector(self) -> str | None:
        return self.keypoint_weights.crop_detector() if self.keypoint_weights is not None else None

    def prepare(self, config, runtime, *, crops_on_device: bool) -> None:
        if self.keypoint_weights is not None:
            self.keypoint_weights.prepare(config, runtime, crops_on_device=crops_on_device)

    def loader_targets(self, crop: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.keypoint_weights.loader_targets(crop) if self.keypoint_weights is not None else {}

    def loss(self, model: torch.nn.Module, batch: dict, runtime, *, seed: int) -> torch.Tensor:
        images = normalize_on_device(batch["image"])
        mask = batch["mask"]
        # Elsewhere the model counts the masked tokens itself and checks every image has as many.
        num_masked = None if runtime.cheap_sync else self.num_masked_tokens
        with runtime.autocast():
            output = model(images, mask, num_masked=num_masked)
        predictions = output.predictions.float()
        grid = self.img_size // self.patch_size
        if self.options.semanticmim_target == "hog":
            # From the uint8 pixels: the same HOG as the normalised image's, with exact gradients (kamim_lib.hog).
            targets = hog_patch_targets(batch["image"], self.patch_size)
            return (predictions - gather_tokens(targets, output.masked_index)).square().mean()
        reconstruction = patches_to_image(scatter_to_grid(predictions, output.masked_index, grid * grid), grid,
                                          self.patch_size)
        weights = None
        normalize = "mask"
        if self.keypoint_weights is not None:
            weights = self.keypoint_weights.loss_weights(batch, seed=seed)
            normalize = self.keypoint_weights.normalization()
        return masked_reconstruction_loss(reconstruction, images, mask, self.patch_size, weight=weights,
                                          normalize=normalize, criterion="l1")

    def describe(self) -> dict:
        return {"method": self.name, "semanticmim_proxies": self.num_proxies,
                "semanticmim_target_dim": self.out_dim()}
