"""Every published number the results are shown beside: the paper's (:data:`PAPER_CLASSIFICATION`, its analysis
curves and reconstruction ranges) and its peers' (:data:`PEERS_PUBLISHED`). Typed from their sources, never measured.

The paper's classification numbers (SPEC §2): ImageNet-1K, 100 epochs + 10 warm-up, FAST, top-1 %. Only these are
known. Every other cell (CIFAR, the detector ablation, the w_ps x T sweep, other data sets) is unknown here and must
be shown as "n/a", never estimated.

The paper's analysis curves (ViT-B, 192 px, 12 x 12 tokens), transcribed from SPEC §3, to plot as "paper". The
per-layer values were read off the original figures (±0.5%). SPEC §3 warns that KAMIM's attention curves
(99.5–100.2 px, NMI ≈ 0.003–0.007 at every layer) are exactly what a randomly initialised ViT gives, and may come
from a checkpoint that never loaded (the original loads with strict=False): plot a random-init baseline beside them.
"""
from __future__ import annotations

from typing import Sequence

# --- the paper: classification (SPEC §2) ---------------------------------------------------------------------------

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


def paper_value(model: str, method: str, protocol: str, dataset: str = "imagenet") -> float | None:
    """The paper's top-1 for this setting, or None where the paper's number is unknown here."""
    if dataset not in ("imagenet", "imagenet1k", "imagenet-1k"):
        return None
    return PAPER_CLASSIFICATION.get((model, method, protocol))


# --- the paper: analysis curves and reconstruction ranges (SPEC §3) ------------------------------------------------

# Blocks 1–12 of ViT-B.
ATTENTION_LAYERS = tuple(range(1, 13))

ATTENTION_DISTANCE_PX = {
    "simmim": (96.3, 84.0, 71.2, 63.7, 67.9, 75.8, 74.2, 69.4, 75.6, 71.1, 73.2, 68.0),
    "kamim": (99.5, 100.2, 99.9, 99.6, 99.7, 99.8, 99.9, 99.7, 99.9, 99.7, 99.9, 99.8),
}

ATTENTION_NMI = {
    "simmim": (0.116, 0.070, 0.249, 0.270, 0.225, 0.190, 0.172, 0.205, 0.119, 0.157, 0.170, 0.204),
    "kamim": (0.007, 0.005, 0.004, 0.004, 0.004, 0.004, 0.004, 0.003, 0.003, 0.003, 0.003, 0.003),
}

# The Fourier curve starts at the embedding output ("x"), then blocks 1–11.
FOURIER_LAYERS = ("x",) + tuple(range(1, 12))

FOURIER_DELTA_LOG_AMPLITUDE = {
    "simmim": (-0.92, -2.44, -2.64, -2.61, -2.52, -2.51, -2.54, -2.50, -2.44, -2.47, -2.44, -2.50),
    "kamim": (-1.59, -2.01, -2.18, -2.29, -2.39, -2.42, -2.46, -2.53, -2.56, -2.63, -2.61, -2.64),
}

# Reconstruction notebook of the original (ViT-B, mask ratio 0.4), the same ranges for both methods. SPEC does not
# say whether these are full-image or masked-region scores.
RECONSTRUCTION_MASK_RATIO = 0.4
RECONSTRUCTION_PSNR_RANGE = (12.06, 12.09)
RECONSTRUCTION_SSIM_RANGE = (0.108, 0.115)


# --- the peers (notebook 12) ----------------------------------------------------------------------------------------

# Published numbers beside ours (PEERS §2.6, §3.8: the peers' README tables; their settings, not ours).
PEERS_PUBLISHED = {
    ("attmask", "linprobe"): {"value": 75.7, "source": "AttMask README: ViT-S/16, IN-1K 100 ep, High, linear top-1"},
    ("attmask", "knn"): {"value": 72.5, "source": "AttMask README: ViT-S/16, IN-1K 100 ep, High, k-NN top-1"},
    ("simmim", "finetune"): {"value": 83.7, "source": "PSS README: SimMIM ViT-B fine-tune top-1 (24.6 h)"},
    ("simmim+pss", "finetune"): {"value": 83.5, "source": "PSS README: SimMIM ViT-B + PSS fine-tune top-1 (17.0 h)"},
    ("simmim+pss", "time_saving"): {"value": 100 * (1 - 17.0 / 24.6),
                                    "source": "PSS README: 24.6 h -> 17.0 h on 4xA100 (abstract: -31 %)"},
}


def published_for(protocol: str, labels: Sequence[str]) -> dict[str, float | None]:
    """The peers' published numbers of ``labels`` under ``protocol`` (None where the peers publish none)."""
    return {label: (PEERS_PUBLISHED.get((label, protocol)) or {}).get("value") for label in labels}
