"""MixUp / CutMix with label smoothing, per batch on the training device, with static shapes.

Each call draws, on the host (no device sync, no ``.item()``): whether to mix at all (``prob``), MixUp or CutMix
(CutMix with probability ``switch_prob`` when both are on), ``lam ~ Beta(alpha, alpha)`` and, for CutMix, a box
of area ``(1 - lam) * H * W`` centred at a uniform pixel and clipped to the image (``lam`` is then recomputed
from the clipped box, so the label weights equal the pixel fractions). Each image is mixed with its partner in the
reversed batch (``images.flip(0)``), as timm's "batch" mode does. On the device both modes are one expression,

    mixed = images * keep + images.flip(0) * (1 - keep),   keep = lam (MixUp) or 1 - box (CutMix) per pixel,

so the traced graph is the same for every batch (XLA compiles it once) and works for any batch size.
Targets are ``lam * smooth(y) + (1 - lam) * smooth(y.flip(0))`` with ``smooth(y) = (1 - s) * onehot(y) + s / K``;
each row sums to 1.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from kamim_lib._validation import check_positive


class MixupCutmix:
    """Batch-level MixUp/CutMix (SPEC 1.6: alpha 1 each).

    Args:
        num_classes: K, the width of the soft targets.
        mixup_alpha: Beta parameter of MixUp; 0 disables MixUp.
        cutmix_alpha: Beta parameter of CutMix; 0 disables CutMix.
        switch_prob: probability of CutMix rather than MixUp when both are enabled.
        label_smoothing: s, mass spread uniformly over the K classes.
        prob: probability that a batch is mixed at all (otherwise only label smoothing applies).
        seed: seed of the host-side random stream; None draws one from torch's global generator, so
            ``torch.manual_seed`` makes runs repeatable. Give each data-parallel rank its own seed.
    """

    def __init__(self, *, num_classes: int, mixup_alpha: float = 1.0, cutmix_alpha: float = 1.0,
                 switch_prob: float = 0.5, label_smoothing: float = 0.1, prob: float = 1.0,
                 seed: int | None = None):
        if not isinstance(num_classes, int):
            raise ValueError(f"num_classes must be an int, got {num_classes!r}.")
        check_positive("num_classes", num_classes)
        for name, value in (("mixup_alpha", mixup_alpha), ("cutmix_alpha", cutmix_alpha)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0 (0 disables it), got {value!r}.")
        for name, value in (("switch_prob", switch_prob), ("label_smoothing", label_smoothing), ("prob", prob)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}.")
        self.num_classes = num_classes
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.switch_prob = float(switch_prob)
        self.label_smoothing = float(label_smoothing)
        self.prob = float(prob)
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())  # once, at construction, on the CPU generator
        self.rng = np.random.default_rng(seed)

    def sample_params(self, height: int, width: int) -> tuple[bool, float, tuple[int, int, int, int]]:
        """Draw one batch's parameters on the host.

        Returns:
            ``(use_cutmix, lam, (y0, y1, x0, x1))``: ``lam`` is the weight of the original image (1 = unmixed);
            the box (empty unless CutMix) covers rows ``y0:y1`` and columns ``x0:x1``.
        """
        no_box = (0, 0, 0, 0)
        use_mixup, use_cutmix = self.mixup_alpha > 0, self.cutmix_alpha > 0
        if not (use_mixup or use_cutmix) or self.rng.random() >= self.prob:
            return False, 1.0, no_box
        if use_mixup and use_cutmix:
            use_cutmix = bool(self.rng.random() < self.switch_prob)
        if not use_cutmix:
            return False, float(self.rng.beta(self.mixup_alpha, self.mixup_alpha)), no_box
        lam = float(self.rng.beta(self.cutmix_alpha, self.cutmix_alpha))
        side_ratio = np.sqrt(1.0 - lam)
        box_h, box_w = int(height * side_ratio), int(width * side_ratio)
        centre_y, centre_x = int(self.rng.integers(height)), int(self.rng.integers(width))
        y0, y1 = np.clip([centre_y - box_h // 2, centre_y + box_h // 2], 0, height)
        x0, x1 = np.clip([centre_x - box_w // 2, centre_x + box_w // 2], 0, width)
        lam = 1.0 - float((y1 - y0) * (x1 - x0)) / float(height * width)
        return True, lam, (int(y0), int(y1), int(x0), int(x1))

    def smooth_targets(self, labels: torch.Tensor) -> torch.Tensor:
        """(B,) int64 -> (B, K) float32 label-smoothed one-hot targets."""
        one_hot = F.one_hot(labels.long(), self.num_classes).to(torch.float32)
        return one_hot * (1.0 - self.label_smoothing) + self.label_smoothing / self.num_classes

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix a batch.

        Args:
            images: (B, C, H, W) float (normalised) on any device.
            labels: (B,) int64 class indices on the same device.

        Returns:
            ``(mixed_images, soft_targets)``: (B, C, H, W) same dtype as ``images``; (B, K) float32, rows sum to 1.
        """
        if not torch.is_floating_point(images) or images.ndim != 4:
            raise ValueError(f"images must be a float tensor (B, C, H, W), got {images.dtype} "
                             f"{tuple(images.shape)}.")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels must have shape (B,) = ({images.shape[0]},), got {tuple(labels.shape)}.")
        height, width = images.shape[-2:]
        use_cutmix, lam, (y0, y1, x0, x1) = self.sample_params(height, width)
        # One small host->device copy of the parameters; the graph below never depends on their values.
        params = torch.tensor([float(use_cutmix), lam, y0, y1, x0, x1], dtype=torch.float32).to(images.device)
        rows = torch.arange(height, device=images.device, dtype=torch.float32).view(height, 1)
        cols = torch.arange(width, device=images.device, dtype=torch.float32).view(1, width)
        in_box = (rows >= params[2]) & (rows < params[3]) & (cols >= params[4]) & (cols < params[5])  # (H, W)
        keep = torch.where(params[0] > 0, (~in_box).to(torch.float32), params[1])  # (H, W)
        keep = keep.to(images.dtype)
        mixed = images * keep + images.flip(0) * (1 - keep)
        targets = self.smooth_targets(labels)
        targets = targets * params[1] + targets.flip(0) * (1 - params[1])
        return mixed, targets
