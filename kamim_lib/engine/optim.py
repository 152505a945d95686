"""AdamW over the trainable parameters, optionally exempting 1-D parameters and tokens from weight decay."""
from __future__ import annotations

import torch

# Parameters that MAE/SimMIM/timm exempt from weight decay besides biases and norm weights (ndim <= 1).
NO_DECAY_NAME_SUFFIXES = ("pos_embed", "cls_token", "mask_token", "absolute_pos_embed",
                          "relative_position_bias_table")


def parameter_groups(model: torch.nn.Module, weight_decay: float, *, no_weight_decay_1d: bool) -> list[dict]:
    """Trainable parameters in one group, or two (decay / no decay) when ``no_weight_decay_1d``."""
    named = [(name, parameter) for name, parameter in model.named_parameters() if parameter.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameters (is the whole network frozen?).")
    if not no_weight_decay_1d:
        return [{"params": [parameter for _, parameter in named], "weight_decay": weight_decay}]
    decay, no_decay = [], []
    for name, parameter in named:
        exempt = parameter.ndim <= 1 or name.endswith(NO_DECAY_NAME_SUFFIXES)
        (no_decay if exempt else decay).append(parameter)
    return [group for group in ({"params": decay, "weight_decay": weight_decay},
                                {"params": no_decay, "weight_decay": 0.0}) if group["params"]]


def build_optimizer(model: torch.nn.Module, *, lr: float, weight_decay: float, betas: tuple[float, float],
                    no_weight_decay_1d: bool = False, fused: bool = False) -> torch.optim.AdamW:
    """AdamW (the original's optimiser) over ``model``'s trainable parameters; the schedule sets ``lr`` per step.

    ``fused=True`` uses torch's single-kernel AdamW (the same update up to float rounding; CUDA and CPU parameters,
    see :func:`kamim_lib.runtime.speed.fused_optimizer_enabled`); otherwise torch's default (multi-tensor)."""
    groups = parameter_groups(model, weight_decay, no_weight_decay_1d=no_weight_decay_1d)
    # fused=None (not False) lets torch pick its default implementation; False would force the per-tensor loop.
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), weight_decay=weight_decay,
                             fused=True if fused else None)
