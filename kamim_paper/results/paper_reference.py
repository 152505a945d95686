"""The paper's analysis curves (ViT-B, 192 px, 12 x 12 tokens), transcribed from SPEC §3, to plot as "paper".

The per-layer values were read off the original figures (±0.5%). SPEC §3 warns that KAMIM's attention curves
(99.5–100.2 px, NMI ≈ 0.003–0.007 at every layer) are exactly what a randomly initialised ViT gives, and may come
from a checkpoint that never loaded (the original loads with strict=False): plot a random-init baseline beside them.
"""
from __future__ import annotations

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
