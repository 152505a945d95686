"""Data order and per-sample randomness that are functions of (seed, epoch, position) only.

Why not ``DistributedSampler`` + worker seeds: augmentation randomness would then depend on which worker loaded
which sample and on how many batches came before, so a run resumed mid-epoch, or run with another worker count or
another number of processes, would see different crops and masks. Here

- the epoch's order is ``randperm(N)`` from a generator seeded by (seed, epoch), the same in every process;
- global batch ``i`` is positions ``[i·G, (i+1)·G)`` of that order (G = global batch); process ``r`` of ``W`` takes
  the contiguous slice ``[r·G/W, (r+1)·G/W)``, so W processes together see exactly what one process sees with
  batch G;
- the incomplete last global batch (``N mod G`` samples) is dropped (``last_batch="drop"``: static shapes) or kept
  (``"keep"``, as the original's DataLoader without ``drop_last``): cut to a multiple of ``partial_multiple`` (the
  number of devices, so every process and every SPMD device gets the same number of samples; with one device nothing
  is cut) and split into W equal contiguous slices;
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
        # The CPU generator only: torch.manual_seed would also seed every accelerator's generator (never restored
        # below) and, with a CUDA build before CUDA is initialised, formats a stack trace per call (~0.5 ms a
        # sample: a third of a small run's loading time).
        torch.default_generator.manual_seed(seed)
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


LAST_BATCH_MODES = ("drop", "keep", "shard")


def accumulation_group_size(batch: int, accum: int, batches_per_epoch: int) -> int:
    """Micro-batches in the gradient-accumulation group of micro-batch ``batch`` (0-based within the epoch).

    ``accum`` except for a short last group when ``batches_per_epoch`` is not a multiple of ``accum`` (the original
    then steps the optimiser after the epoch's last micro-batch).
    """
    group_start = batch - batch % accum
    return min(accum, batches_per_epoch - group_start)


class EpochBatchSampler(Sampler):
    """Yields this process's micro-batches of ``(index, sample_seed)`` for one epoch (see the module docstring).

    Args:
        num_samples: N, the data set length.
        batch_size: micro-batch of this process.
        seed: base seed.
        rank, world_size: this process among the data-parallel processes.
        shuffle: random order per epoch (training) or the natural order (evaluation).
        last_batch: "drop" (training with static shapes: full global batches only), "keep" (training as the
            original: also the incomplete last global batch, see the module docstring) or "shard" (evaluation:
            process ``r`` takes every ``world_size``-th sample from ``r``; the last batch may be short).
        num_batches: cap on the micro-batches per epoch (the engine keeps whole accumulation groups).
        partial_multiple: ``last_batch="keep"`` cuts the last global batch to a multiple of this (a multiple of
            ``world_size``; default ``world_size``; the engine passes the number of devices).
    """

    def __init__(self, num_samples: int, batch_size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, last_batch: str = "drop", num_batches: int | None = None,
                 partial_multiple: int | None = None):
        if num_samples <= 0 or batch_size <= 0:
            raise ValueError(f"num_samples and batch_size must be positive, got {num_samples} and {batch_size}.")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} must be in [0, world_size={world_size}).")
        if last_batch not in LAST_BATCH_MODES:
            raise ValueError(f"last_batch={last_batch!r} is not supported; choose one of {LAST_BATCH_MODES}.")
        partial_multiple = world_size if partial_multiple is None else partial_multiple
        if partial_multiple <= 0 or partial_multiple % world_size:
            raise ValueError(f"partial_multiple={partial_multiple} must be a positive multiple of world_size="
                             f"{world_size}.")
        self.num_samples, self.batch_size = num_samples, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.shuffle, self.last_batch = shuffle, last_batch
        self.epoch, self.start_batch = 0, 0
        global_batch = batch_size * world_size
        self.full_batches = num_samples // global_batch
        remainder = num_samples - self.full_batches * global_batch
        # Samples of the kept incomplete last global batch (0 when dropped or when there is none).
        self.partial_samples = remainder - remainder % partial_multiple if last_batch == "keep" else 0
        if last_batch == "shard":
            shard = len(range(rank, num_samples, world_size))
            self.batches_per_epoch = -(-shard // batch_size)
        else:
            available = self.full_batches + (1 if self.partial_samples else 0)
            self.batches_per_epoch = available if num_batches is None else min(available, num_batches)

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
        if self.last_batch == "shard":
            shard = range(self.rank, self.num_samples, self.world_size)
            return shard[batch * self.batch_size:(batch + 1) * self.batch_size]
        if batch < self.full_batches:
            start = batch * self.batch_size * self.world_size + self.rank * self.batch_size
            return range(start, start + self.batch_size)
        per_rank = self.partial_samples // self.world_size
        start = self.full_batches * self.batch_size * self.world_size + self.rank * per_rank
        return range(start, start + per_rank)

    def global_samples(self, start_batch: int, stop_batch: int) -> int:
        """Samples in micro-batches ``[start_batch, stop_batch)`` over all processes (training modes)."""
        full = max(0, min(stop_batch, self.full_batches) - start_batch)
        partial = self.partial_samples if start_batch <= self.full_batches < stop_batch else 0
        return full * self.batch_size * self.world_size + partial

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = self.order().tolist()
        for batch in range(self.start_batch, self.batches_per_epoch):
            yield [(order[position], mix_seed(self.seed, self.epoch, position)) for position in self._positions(batch)]

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch
