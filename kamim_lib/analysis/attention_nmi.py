"""Normalised mutual information between queries and keys of an attention map (SPEC §3; naver-ai/cl-vs-mim).

Treat one image's patch-to-patch attention A (CLS dropped, rows renormalised) as a joint distribution:

    p(q) = 1/N (uniform),   p(k|q) = A_qk,   p(k) = Σ_q p(q) A_qk
    MI   = Σ_qk p(q) A_qk log(A_qk / p(k))
    NMI  = MI / √(H(q) · H(k)),   H(q) = log N,   H(k) = −Σ_k p(k) log p(k)

High NMI: each query attends to its own keys (local, query-dependent attention); 0: every query attends the same
way (e.g. uniform, or all to one token). Identity attention gives 1. Terms with A_qk = 0 contribute 0 (0·log 0 = 0).
When H(k) = 0 (all queries attend one key) MI is 0 as well and NMI is defined as 0.
"""
from __future__ import annotations

from typing import Sequence

import torch

from kamim_lib.analysis._layers import layer_list
from kamim_lib.analysis.tokens import patch_attention


def attention_nmi(attn: torch.Tensor, has_cls: bool | int = True) -> torch.Tensor:
    """NMI of each head, averaged over images.

    Args:
        attn: attention probabilities of one block (B, heads, Q, K), Q = K = prefix + N (Swin: B·windows).
        has_cls: True/False, or the number of leading prefix tokens (``model.encoder.num_prefix_tokens``).

    Returns:
        float (heads,) in [0, 1].
    """
    patches = patch_attention(attn, has_cls)
    num_queries = patches.shape[-2]
    key_marginal = patches.mean(dim=-2)                                       # p(k), (B, heads, K)
    key_entropy = -torch.xlogy(key_marginal, key_marginal).sum(dim=-1)        # H(k)
    # Σ_qk p(q) A log(A / p(k)) = (1/N) Σ_qk A log A − Σ_k p(k) log p(k), using Σ_q A_qk = N·p(k); xlogy makes
    # the 0·log 0 terms exactly 0.
    conditional = torch.xlogy(patches, patches).sum(dim=(-2, -1)) / num_queries
    # MI ≥ 0 in exact arithmetic; clamp the ~1e-7 rounding of a uniform map so it reads 0, not −0.0000001.
    mutual_information = (conditional + key_entropy).clamp_min(0)
    query_entropy = torch.log(torch.tensor(float(num_queries), dtype=patches.dtype, device=patches.device))
    denominator = torch.sqrt(query_entropy * key_entropy)
    nmi = torch.where(denominator > 0, mutual_information / denominator.clamp_min(torch.finfo(patches.dtype).tiny),
                      torch.zeros_like(mutual_information))
    return nmi.mean(dim=0)


def attention_nmi_per_layer(attentions: Sequence[torch.Tensor], has_cls: bool | int = True,
                            per_head: bool = False) -> torch.Tensor | list[torch.Tensor]:
    """NMI of every block, as plotted per layer in SPEC §3.

    Args:
        attentions: one attention tensor per block, each (B, heads, Q, K) (``EncoderIntermediates.attentions``).
        has_cls: True/False, or the number of leading prefix tokens.
        per_head: False averages heads too (the paper's curve); True keeps them.

    Returns:
        float (L,) averaged over images and heads; or, with ``per_head``, a list of L tensors (heads,).
    """
    per_head_values = [attention_nmi(a, has_cls) for a in layer_list(attentions, "attentions")]
    if per_head:
        return per_head_values
    return torch.stack([values.mean() for values in per_head_values])
