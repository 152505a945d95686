"""Analysis of trained encoders (SPEC §3): pure functions with known-answer tests.

Attention (one block's probabilities (B, heads, Q, K); CLS dropped, rows renormalised):
    attention_map, mean_attention_distance[_per_layer], attention_nmi[_per_layer]
Hidden states (B, prefix + N, D):
    fourier_relative_log_amplitude (ΔLog amplitude + diagonal profiles), token_tsne, pre_post_attention_pca
Reconstructions (un-normalised pixels):
    unnormalize, psnr, ssim, reconstruction_metrics (psnr/ssim, masked region and full image)
Per-model collection (a model and a batch of images in, per-layer statistics out): :mod:`.collect`.

``has_cls`` everywhere is True/False or the number of leading prefix tokens (``model.encoder.num_prefix_tokens``).
"""
from kamim_lib.analysis.attention_distance import (mean_attention_distance, mean_attention_distance_per_layer,
                                                   token_distance_matrix)
from kamim_lib.analysis.attention_maps import attention_map
from kamim_lib.analysis.attention_nmi import attention_nmi, attention_nmi_per_layer
from kamim_lib.analysis.attention_pca import JointPCA, pre_post_attention_pca
from kamim_lib.analysis.fourier import (FourierAnalysis, FourierProfile, fourier_diagonal_profile,
                                        fourier_relative_log_amplitude, log_amplitude_spectrum)
from kamim_lib.analysis.pixels import IMAGENET_MEAN, IMAGENET_STD, masked_input, paste_visible, pixel_mask, unnormalize
from kamim_lib.analysis.psnr import mean_squared_error, psnr
from kamim_lib.analysis.reconstruction import METRIC_NAMES, reconstruction_metrics
from kamim_lib.analysis.ssim import ssim, ssim_map
from kamim_lib.analysis.token_tsne import TokenEmbedding, token_tsne
from kamim_lib.analysis.tokens import patch_attention, patch_tokens

__all__ = [
    "attention_map", "mean_attention_distance", "mean_attention_distance_per_layer", "token_distance_matrix",
    "attention_nmi", "attention_nmi_per_layer",
    "fourier_relative_log_amplitude", "fourier_diagonal_profile", "log_amplitude_spectrum", "FourierAnalysis",
    "FourierProfile",
    "token_tsne", "TokenEmbedding", "pre_post_attention_pca", "JointPCA",
    "unnormalize", "pixel_mask", "masked_input", "paste_visible", "IMAGENET_MEAN", "IMAGENET_STD",
    "psnr", "mean_squared_error", "ssim", "ssim_map", "reconstruction_metrics", "METRIC_NAMES",
    "patch_attention", "patch_tokens",
]
