"""Random crops, flips and 90° rotations, identical for every array of one item and reproducible.

Each draw comes from ``numpy.random.default_rng((seed, epoch, index, stream))``: the same item of the same epoch
gets the same crop and orientation whichever worker reads it, in whatever order. Call the dataset's
``set_epoch(epoch)`` for new draws each epoch (as with ``DistributedSampler``). The epoch lives in shared
memory, so the call also reaches the copies of the dataset in persistent DataLoader workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Window:
    """A crop on the spectral (low-resolution) grid; the guide-grid window is the same times ``ratio``."""

    top: int
    left: int
    size: int  # low-resolution pixels

    def low(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.size), slice(self.left, self.left + self.size)

    def high(self, ratio: int) -> tuple[slice, slice]:
        top, left, size = self.top * ratio, self.left * ratio, self.size * ratio
        return slice(top, top + size), slice(left, left + size)


class SharedEpoch:
    """An epoch counter in shared memory: written by the main process, read by every DataLoader worker."""

    def __init__(self) -> None:
        self._value = torch.zeros((), dtype=torch.int64).share_memory_()

    def set(self, epoch: int) -> None:
        self._value.fill_(int(epoch))

    def get(self) -> int:
        return int(self._value.item())


class EpochAware:
    """Mixin of datasets whose random draws depend on the epoch (the trainer calls ``set_epoch``)."""

    _epoch: SharedEpoch

    def set_epoch(self, epoch: int) -> None:
        """New random crops/orientations for each epoch (draws depend on seed, epoch and index only)."""
        self._epoch.set(epoch)

    @property
    def epoch(self) -> int:
        return self._epoch.get()


def item_rng(seed: int, epoch: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator of one item's draws; ``stream`` separates independent draws (0 crop, 1 orientation)."""
    return np.random.default_rng((int(seed), int(epoch), int(index), int(stream)))


def choose_window(rng: np.random.Generator | None, low_hw: tuple[int, int], crop: int, ratio: int) -> Window:
    """A crop of ``crop`` guide pixels (a multiple of ``ratio``): random with ``rng``, else centred."""
    size = crop // ratio
    h, w = low_hw
    if rng is None:
        return Window((h - size) // 2, (w - size) // 2, size)
    return Window(int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1)), size)


@dataclass(frozen=True)
class Orientation:
    rotations: int  # quarter turns
    flip: bool  # left-right mirror after the rotation

    def view(self, array: np.ndarray) -> np.ndarray:
        """The oriented C×H×W array as a view (no copy): a reader scales it straight into its output."""
        out = np.rot90(array, self.rotations, axes=(-2, -1)) if self.rotations else array
        return out[..., ::-1] if self.flip else out

    def apply(self, array: np.ndarray) -> np.ndarray:
        """Apply to a C×H×W array; returns a contiguous copy."""
        return np.ascontiguousarray(self.view(array))


def choose_orientation(rng: np.random.Generator) -> Orientation:
    return Orientation(int(rng.integers(0, 4)), bool(rng.integers(0, 2)))
