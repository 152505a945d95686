"""SPMD data-parallel training steps of a tiny model on XLA, for test_xla_models.py.

``torch_xla.runtime.use_spmd()`` is process-global and must come before any XLA tensor exists, so it cannot run
inside a pytest process that has already used the XLA device: :func:`main` runs first in the session's shared SPMD
worker process (xla_spmd_fits.py, ``PJRT_DEVICE=CPU CPU_NUM_DEVICES=4``); the same problem (``spmd_problem``) is
stepped on the CPU by the test.

Usage on its own: python xla_spmd_worker.py <output.pt>
"""
from __future__ import annotations

import copy
import sys

import torch

from kamim_lib.losses import masked_l1
from kamim_lib.masking import random_cell_masks
from kamim_lib.models import MaskedImageModel, create_model

MODEL_NAME = "vit_nano"
GLOBAL_BATCH = 8          # two images per virtual device
NUM_STEPS = 3             # step 1 compiles, step 2 recompiles once (AdamW state now exists), step 3 must not
ADAMW = {"lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 0.05}


def spmd_problem(seed: int = 0) -> tuple[MaskedImageModel, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    """The initial model and ``NUM_STEPS`` batches, identical in every process for a given seed.

    Returns:
        (model on the CPU, [(images float32 (8, 3, 64, 64), token mask int64 (8, 16, 16),
        patch weights float32 (8, 8, 8) in [1, 2)), ...]).
    """
    torch.manual_seed(seed)
    model = create_model(MODEL_NAME)
    generator = torch.Generator().manual_seed(seed + 1)
    side, grid = model.img_size, model.img_size // 8
    batches = []
    for _ in range(NUM_STEPS):
        images = torch.randn(GLOBAL_BATCH, 3, side, side, generator=generator)
        mask = random_cell_masks(GLOBAL_BATCH, input_size=side, mask_patch_size=32,
                                 model_patch_size=model.patch_size, mask_ratio=0.6, generator=generator)
        weight = 1.0 + torch.rand(GLOBAL_BATCH, grid, grid, generator=generator)
        batches.append((images, mask, weight))
    return model, batches


def train_step(model: MaskedImageModel, optimizer: torch.optim.Optimizer,
               batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """One KAMIM-style step (weighted masked L1 of the reconstruction) on whatever device the tensors are on."""
    images, mask, weight = batch
    optimizer.zero_grad(set_to_none=True)
    loss = masked_l1(model(images, mask), images, mask, model.patch_size, weight=weight)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _compile_count(metrics) -> int:
    data = metrics.metric_data("CompileTime")
    return 0 if data is None else int(data[0])


def main(output_path: str) -> None:
    import numpy as np
    import torch_xla
    import torch_xla.debug.metrics as metrics
    import torch_xla.distributed.spmd as xs
    import torch_xla.runtime as xr

    xr.use_spmd()  # before any XLA tensor exists in this process
    num_devices = xr.global_runtime_device_count()
    mesh = xs.Mesh(np.arange(num_devices), (num_devices, 1), ("data", "model"))
    device = torch_xla.device()

    cpu_model, batches = spmd_problem()
    model = copy.deepcopy(cpu_model).to(device)  # parameters replicated on every device
    optimizer = torch.optim.AdamW(model.parameters(), **ADAMW)
    result = {"num_devices": num_devices, "losses": [], "compile_counts": [], "input_sharding": None,
              "weights_after_step": [], "first_step_grads": None}
    for images, mask, weight in batches:
        sharded = []
        for tensor in (images, mask, weight):
            tensor = tensor.to(device)
            xs.mark_sharding(tensor, mesh, ("data",) + (None,) * (tensor.ndim - 1))
            sharded.append(tensor)
        if result["input_sharding"] is None:
            result["input_sharding"] = torch_xla._XLAC._get_xla_sharding_spec(sharded[0])
        loss = train_step(model, optimizer, tuple(sharded))
        torch_xla.sync()
        result["compile_counts"].append(_compile_count(metrics))
        result["losses"].append(loss.cpu().item())
        if result["first_step_grads"] is None:  # AdamW hardly depends on the gradients' scale: check them too
            result["first_step_grads"] = {name: p.grad.cpu() for name, p in model.named_parameters()}
        result["weights_after_step"].append({key: value.cpu() for key, value in model.state_dict().items()})
    torch.save(result, output_path)


if __name__ == "__main__":
    main(sys.argv[1])
