"""Per-layer outputs of an encoder, for probes and the analysis figures (SPEC §3)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import torch


@dataclass
class EncoderIntermediates:
    """What ``encoder.forward_intermediates`` returns.

    Attributes:
        hidden_states: the embedding output (mask token and, for ViT, CLS and position embeddings applied), then
            the output of every transformer block in order. ViT: 1 + depth tensors (B, 1 + N, D), CLS first
            (13 for ViT-B; block 8 = ``hidden_states[8]``). Swin: 1 + sum(depths) tensors (B, N_s, D_s), tokens
            in raster order of the stage grid, taken before the next stage's patch merging.
        attentions: None unless requested; else one tensor per block of attention probabilities
            (B·windows, heads, Q, K), rows summing to 1. ViT: (B, heads, 1 + N, 1 + N), CLS first. Swin:
            (B·nW, heads, w², w²) with windows in raster order per image (image-major), in the block's
            (cyclically shifted) window frame, with the relative position bias and the shifted-window mask applied.
        last_hidden_state: the encoder output: final LayerNorm of the last hidden state when the model has it
            (``final_norm=True``), otherwise the last hidden state itself.
    """

    hidden_states: List[torch.Tensor]
    attentions: Optional[List[torch.Tensor]]
    last_hidden_state: torch.Tensor
