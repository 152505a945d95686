"""The paper's method figure (Figure 1): image → keypoints → density → weights → SimMIM mask → weighted loss."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kamim_lib.keypoints import keypoint_map
from kamim_lib.masking import RandomCellMask
from kamim_lib.weighting import density_to_weights, keypoint_density


@dataclass(frozen=True)
class MethodPanels:
    """Everything the figure shows, for a batch of B images of H x W pixels.

    Attributes:
        images: uint8 (B, 3, H, W) RGB.
        keypoints: float (B, 1, H, W) 0/1 keypoint map.
        density: float (B, H/w_ps, W/w_ps).
        weights: float (B, H/w_ps, W/w_ps), min 1 per image.
        masks: int64 (B, g, g) SimMIM token masks, 1 = masked.
        model_patch_size: pixels per mask token.
    """

    images: torch.Tensor
    keypoints: torch.Tensor
    density: torch.Tensor
    weights: torch.Tensor
    masks: torch.Tensor
    model_patch_size: int

    def summary(self) -> list[dict]:
        """Per-image numbers printed beside the figure (JSON-friendly)."""
        rows = []
        for i in range(self.images.shape[0]):
            rows.append({
                "keypoint_pixels": int(self.keypoints[i].sum()),
                "density_max": round(float(self.density[i].max()), 4),
                "weight_max": round(float(self.weights[i].max()), 4),
                "weight_mean": round(float(self.weights[i].mean()), 4),
                "masked_tokens": int(self.masks[i].sum()),
            })
        return rows


def compute_method_panels(images: torch.Tensor, *, detector: str = "fast", mode: str = "faithful",
                          backend: str = "opencv", patch_size: int = 8, temperature: float = 0.25,
                          mask_patch_size: int = 32, model_patch_size: int = 16, mask_ratio: float = 0.6,
                          seed: int = 0) -> MethodPanels:
    """Run the KAMIM weighting pipeline on uint8 (B, 3, H, W) RGB images and keep every intermediate."""
    kmap = keypoint_map(images, detector=detector, mode=mode, backend=backend)
    density = keypoint_density(kmap, patch_size)
    weights = density_to_weights(density, temperature)
    mask_gen = RandomCellMask(input_size=images.shape[-1], mask_patch_size=mask_patch_size,
                              model_patch_size=model_patch_size, mask_ratio=mask_ratio)
    rng = np.random.default_rng(seed)
    masks = torch.stack([mask_gen(rng) for _ in range(images.shape[0])])
    return MethodPanels(images, kmap, density, weights, masks, model_patch_size)


COLUMNS = ("image", "keypoint map", "density Ω", "weight W", "SimMIM mask", "loss weight M·ω (masked only)")


def method_figure(panels: MethodPanels, *, title: str = ""):
    """One row per image: photo, keypoints, density, weights, mask, loss weight on the masked pixels.

    The last panel shows ω on masked pixels only, on a log scale from 1 (= SimMIM's weight) to the largest weight;
    unmasked pixels, which the loss ignores, are light grey, so a masked weight-1 patch never looks like an
    unmasked one. Built without pyplot (no global backend switch): a returned Figure renders inline in Jupyter.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    count = panels.images.shape[0]
    figure = Figure(figsize=(2.4 * len(COLUMNS), 2.3 * count), layout="constrained")
    axes = np.atleast_2d(figure.subplots(count, len(COLUMNS), squeeze=False))
    height = panels.images.shape[-2]
    for i in range(count):
        rgb = panels.images[i].permute(1, 2, 0).numpy()
        weights = panels.weights[i]
        scale = height // weights.shape[-1]
        pixel_w = weights.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
        token_scale = panels.model_patch_size
        pixel_mask = panels.masks[i].repeat_interleave(token_scale, 0).repeat_interleave(token_scale, 1).float()
        masked_rgb = rgb * (1 - pixel_mask.numpy()[..., None]).astype(rgb.dtype)
        loss_weight = np.ma.masked_where(pixel_mask.numpy() == 0, pixel_w.numpy())
        top = max(float(weights.max()), 1.0 + 1e-6)
        views = [(rgb, None, None), (panels.keypoints[i, 0].numpy(), "gray", None),
                 (panels.density[i].numpy(), "viridis", None), (weights.numpy(), "magma", None),
                 (masked_rgb, None, None), (loss_weight, "magma", LogNorm(vmin=1.0, vmax=top))]
        for j, (view, cmap, norm) in enumerate(views):
            ax = axes[i, j]
            ax.set_facecolor("0.85")
            shown = ax.imshow(view, cmap=cmap, norm=norm, interpolation="nearest")
            if cmap in ("viridis", "magma"):
                figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(COLUMNS[j], fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def render_method_figure(panels: MethodPanels, out_path: str | Path, *, title: str = "") -> Path:
    """:func:`method_figure` saved as a PNG (folders created); returns the path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    method_figure(panels, title=title).savefig(out_path, dpi=110)
    return out_path
