"""Data order and per-sample randomness that are functions of (seed, epoch, position) only.

Why not ``DistributedSampler`` + worker seeds: augmentation randomness would then depend on which worker loaded
which sample and on how many batches came before, so a run resumed mid-epoch, or run with another worker count or
another number of processes, would see different crops and masks. Here

- the epoch's order is ``randperm(N)`` from a generator seeded by (seed, epoch), the same in every process;
- global batch ``i`` is positions ``[i·G, (i+1)·G)`` of that order (G = global batch); process ``r`` of ``W`` takes
  the contiguous slice ``[r·G/W, (r+1)·G/W)``, so W processes together see exactly what one process sees with
  batch G;
- each sample is loaded with python/numpy/torch RNGs seeded from (seed, epoch, position), so its crop, flips
  and mask do not depend on the worker, the process count or where the run was resumed.

A run resumed at micro-batch ``b`` of an epoch starts the sampler at ``b`` and continues exactly.
"""
from __future__ import annotations

import contextlib
import random
import threading
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

_MASK64 = (1 << 64) - 1


def mix_seed(*values: int) -> int:
    """A well-spread 63-bit seed from integers (splitmix64 over the values; cheap, deterministic everywhere)."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (int(value) & _MASK64)) & _MASK64
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        state = z ^ (z >> 31)
    return state >> 1


# The global generators belong to the process; threads that load samples at the same time (XLA multi-process runs
# one thread per core on TPU v2/v3, each with its own loader) take turns inside seeded_rngs.
_GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded_rngs(seed: int):
    """Seed python's, numpy's and torch's global generators inside the block and restore them afterwards.

    Holds a process-wide (re-entrant) lock for the whole block, so concurrent threads cannot draw from each other's
    seeded generators."""
    with _GLOBAL_RNG_LOCK:
        python_state, numpy_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
            torch.set_rng_state(torch_state)


class PositionSeededDataset(Dataset):
    """Wraps a map-style data set so that item ``(index, seed)`` is loaded under :func:`seeded_rngs` (seed)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        with seeded_rngs(seed):
            return self.dataset[index]


class EpochBatchSampler(Sampler):
    """Yields this process's micro-batches of ``(index, sample_seed)`` for one epoch (see the module docstring).

    Args:
        num_samples: N, the data set length.
        batch_size: micro-batch of this process.
        seed: base seed.
        rank, world_size: this process among the data-parallel processes.
        shuffle: random order per epoch (training) or the natural order (evaluation).
        drop_last: drop the incomplete last global batch (training: static shapes). Without it (evaluation),
            process ``r`` takes every ``world_size``-th sample from ``r`` and the last batch may be short.
        num_batches: cap on the micro-batches per epoch (the engine keeps whole accumulation groups).
    """

    def __init__(self, num_samples: int, batch_size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, drop_last: bool = True, num_batches: int | None = None):
        if num_samples <= 0 or batch_size <= 0:
            raise ValueError(f"num_samples and batch_size must be positive, got {num_samples} and {batch_size}.")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} must be in [0, world_size={world_size}).")
        self.num_samples, self.batch_size = num_samples, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.epoch, self.start_batch = 0, 0
        full = num_samples // (batch_size * world_size)
        if drop_last:
            self.batches_per_epoch = full if num_batches is None else min(full, num_batches)
        else:
            shard = len(range(rank, num_samples, world_size))
            self.batches_per_epoch = -(-shard // batch_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch and skip its first ``start_batch`` micro-batches (resume)."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(f"start_batch={start_batch} must be in [0, {self.batches_per_epoch}].")
        self.epoch, self.start_batch = epoch, start_batch

    def order(self) -> torch.Tensor:
        """The epoch's permutation of ``range(N)`` (int64), identical in every process."""
        if not self.shuffle:
            return torch.arange(self.num_samples)
        generator = torch.Generator().manual_seed(mix_seed(self.seed, self.epoch, 0x5EED))
        return torch.randperm(self.num_samples, generator=generator)

    def _positions(self, batch: int) -> range:
        if self.drop_last:
            start = batch * self.batch_size * self.world_size + self.rank * self.batch_size
            return range(start, start + self.batch_size)
        shard = range(self.rank, self.num_samples, self.world_size)
        return shard[batch * self.batch_size:(batch + 1) * self.batch_size]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = self.order().tolist()
        for batch in range(self.start_batch, self.batches_per_epoch):
            yield [(order[position], mix_seed(self.seed, self.epoch, position)) for position in self._positions(batch)]

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch
