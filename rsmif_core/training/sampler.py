"""A shuffling sampler whose order depends only on (seed, epoch)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSeededSampler(Sampler[int]):
    """Shuffle with a permutation drawn from ``seed + epoch``.

    Unlike ``RandomSampler`` it never touches the global RNG, so an epoch's order is the same whether
    the run was resumed mid-epoch or not (the condition for a bit-exact resume), and every process of a
    distributed run draws the same order before Accelerate shards it. Accelerate's own
    ``SeedableRandomSampler`` would do the same but is checkpointed by pickling the whole sampler
    (dataset included), which cannot be loaded with ``weights_only=True``.
    """

    def __init__(self, length: int, seed: int, shuffle: bool = True) -> None:
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.length))
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.length, generator=g).tolist())

    def __len__(self) -> int:
        return self.length
