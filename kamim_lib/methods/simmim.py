"""SimMIM: reconstruct the masked pixels, L1 on the normalised image (SPEC §1.4 with ω ≡ 1)."""
from __future__ import annotations

import dataclasses

import torch

from kamim_lib.data.normalization import normalize_on_device
from kamim_lib.losses import masked_reconstruction_loss, norm_pix_target
from kamim_lib.plugins import param

from kamim_lib.methods.base import Method
from kamim_lib.methods.registry import register_method

# Reconstruction targets: "pixels" = the ImageNet-normalised image with L1 (SimMIM, the original KAMIM);
# "norm_pix" = each encoder patch standardised, with L2 (MAE's norm_pix_loss; PEERS §5.1).
TARGETS = ("pixels", "norm_pix")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PixelTargetOptions:
    """The reconstruction target shared by the pixel-reconstruction methods."""

    target: str = param("pixels", "reconstruction target: pixels (normalised image, L1: SimMIM/KAMIM) or "
                                  "norm_pix (each encoder patch standardised, L2: MAE's norm_pix_loss)",
                        choices=TARGETS)


class PixelReconstruction(Method):
    """Masked reconstruction of the image by ``model(images, mask)``, optionally weighted per pixel.

    Subclasses supply :meth:`loss_weights` (None = unweighted) and :meth:`normalization`.
    """

    Options = PixelTargetOptions

    def loss_weights(self, batch: dict, *, seed: int) -> torch.Tensor | None:
        """(B, h, w) weights of the loss, or None for ω ≡ 1."""
        return None

    def normalization(self) -> str:
        """The denominator of :func:`~kamim_lib.losses.masked_reconstruction_loss` ("mask" or "weight")."""
        return "mask"

    def loss(self, model: torch.nn.Module, batch: dict, runtime, *, seed: int) -> torch.Tensor:
        images = normalize_on_device(batch["image"])
        weights = self.loss_weights(batch, seed=seed)
        with runtime.autocast():
            reconstruction = model(images, batch["mask"])
        if self.options.target == "norm_pix":
            target, criterion = norm_pix_target(images, self.patch_size), "l2"
        else:
            target, criterion = images, "l1"
        return masked_reconstruction_loss(reconstruction.float(), target, batch["mask"], self.patch_size,
                                          weight=weights, normalize=self.normalization(), criterion=criterion)


@register_method
class SimMIM(PixelReconstruction):
    """``method=simmim``: every masked pixel counts the same."""

    name = "simmim"
    summary = "SimMIM (Xie et al., CVPR 2022): masked L1 on raw pixels, every masked pixel weighted 1"
