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


def render_method_figure(panels: MethodPanels, out_path: str | Path, *, title: str = "") -> Path:
    """Draw one row per image: photo, keypoints, density, weights, mask, loss weight on masked pixels."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    columns = ("image", "keypoint map", "density Ω", "weight W", "SimMIM mask", "loss weight M·ω")
    count = panels.images.shape[0]
    fig, axes = plt.subplots(count, len(columns), figsize=(2.3 * len(columns), 2.3 * count), squeeze=False)
    height = panels.images.shape[-2]
    for i in range(count):
        rgb = panels.images[i].permute(1, 2, 0).numpy()
        weights = panels.weights[i]
        scale = height // weights.shape[-1]
        pixel_w = weights.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
        token_scale = panels.model_patch_size
        pixel_mask = panels.masks[i].repeat_interleave(token_scale, 0).repeat_interleave(token_scale, 1).float()
        masked_rgb = rgb * (1 - pixel_mask.numpy()[..., None]).astype(rgb.dtype)
        views = [(rgb, None), (panels.keypoints[i, 0].numpy(), "gray"), (panels.density[i].numpy(), "viridis"),
                 (weights.numpy(), "magma"), (masked_rgb, None), ((pixel_mask * pixel_w).numpy(), "magma")]
        for j, (view, cmap) in enumerate(views):
            ax = axes[i, j]
            shown = ax.imshow(view, cmap=cmap, interpolation="nearest")
            if cmap in ("viridis", "magma"):
                fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(columns[j], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
