"""Devices to parametrise a device test over: the CPU always (the same code runs, device == CPU), a CUDA GPU when
one is visible (marked ``cuda``, so ``pytest -m cuda`` selects it on a GPU machine)."""
import pytest
import torch

CPU_AND_CUDA = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU")])]
