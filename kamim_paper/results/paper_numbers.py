"""Numbers the paper reports (SPEC §2): ImageNet-1K, 100 epochs + 10 warm-up, FAST, top-1 %.

Only these are known. Every other cell (CIFAR, the detector ablation, the w_ps x T sweep, other data sets) is
unknown here and must be shown as "n/a", never estimated.
"""
from __future__ import annotations

# (model, method, protocol) -> top-1 %; protocol "linprobe" or "finetune".
PAPER_CLASSIFICATION: dict[tuple[str, str, str], float] = {
    ("vit_t", "simmim", "linprobe"): 12.37, ("vit_t", "kamim", "linprobe"): 13.75,
    ("vit_t", "simmim", "finetune"): 70.49, ("vit_t", "kamim", "finetune"): 70.41,
    ("vit_s", "simmim", "linprobe"): 20.99, ("vit_s", "kamim", "linprobe"): 22.68,
    ("vit_s", "simmim", "finetune"): 76.80, ("vit_s", "kamim", "finetune"): 77.02,
    ("vit_b", "simmim", "linprobe"): 16.12, ("vit_b", "kamim", "linprobe"): 33.97,
    ("vit_b", "simmim", "finetune"): 76.78, ("vit_b", "kamim", "finetune"): 77.30,
    ("swin_t", "simmim", "linprobe"): 14.37, ("swin_t", "kamim", "linprobe"): 14.53,
    ("swin_t", "simmim", "finetune"): 77.94, ("swin_t", "kamim", "finetune"): 78.12,
    ("swin_b", "simmim", "linprobe"): 20.42, ("swin_b", "kamim", "linprobe"): 18.16,
    ("swin_b", "simmim", "finetune"): 79.58, ("swin_b", "kamim", "finetune"): 80.02,
}

# Reconstruction (ViT-B, mask ratio 0.4 in the original notebook), both methods: ranges as reported.
PAPER_RECONSTRUCTION = {"psnr": (12.06, 12.09), "ssim": (0.108, 0.115)}


def paper_value(model: str, method: str, protocol: str, dataset: str = "imagenet") -> float | None:
    """The paper's top-1 for this setting, or None where the paper's number is unknown here."""
    if dataset not in ("imagenet", "imagenet1k", "imagenet-1k"):
        return None
    return PAPER_CLASSIFICATION.get((model, method, protocol))
