"""Per-sample randomness: seeded_rngs seeds python's, numpy's and torch's CPU generators, restores them afterwards,
and leaves every other generator alone."""
import random

import numpy as np
import torch

from kamim_lib.engine.sampling import seeded_rngs


def test_draws_inside_are_a_function_of_the_seed_and_the_outer_state_is_restored():
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(6)
    expected_outer = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(6)
    with seeded_rngs(42):
        inner = (torch.rand(3), random.random(), np.random.rand())
    outer = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(outer[0], expected_outer[0]) and outer[1:] == expected_outer[1:]
    assert torch.equal(inner[0], torch.rand(3, generator=torch.Generator().manual_seed(42)))
    assert inner[1] == random.Random(42).random()
    assert inner[2] == np.random.RandomState(42).rand()


def test_only_the_cpu_generator_is_seeded(monkeypatch):
    # torch.manual_seed would also (re)seed every accelerator's generator, which the block never restores; with a
    # CUDA build it also formats a stack trace per call before CUDA is initialised (a third of a small run's loading).
    def refuse(seed):
        raise AssertionError("seeded_rngs must not call torch.manual_seed")

    monkeypatch.setattr(torch, "manual_seed", refuse)
    with seeded_rngs(7):
        first = torch.rand(2)
    with seeded_rngs(7):
        assert torch.equal(torch.rand(2), first)
