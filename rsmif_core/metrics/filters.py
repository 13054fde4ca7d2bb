"""Separable 'valid' filtering of many maps at once (SSIM windows, sliding UIQI boxes) in torch: the path of
GPUs and of ``kernels="torch"`` (CPUs use the fused kernels of :mod:`rsmif_core.metrics.kernels` by
default), and the authors' protocol's windows.

A 'valid' correlation along one axis is a product with a banded Toeplitz matrix. We cut the output axis
into tiles of about :data:`TILE` values and multiply each tile's input span (tile + taps - 1 values, a
strided view, no copy) by one small band matrix, writing straight into the result: BLAS does the work in
float64, faster than accumulating shifted slices and far faster than ``conv2d``, which has no fast double
path (bench/RESULTS.md). For the 32-wide boxes of the sliding UIQI it is exact to rounding.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

TILE = 48


def gaussian_taps(size: int, sigma: float) -> tuple[float, ...]:
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-(t * t) / (2 * sigma * sigma))
    return tuple(float(v) for v in g / g.sum())


@lru_cache(maxsize=32)
def _band(taps: tuple[float, ...], tile: int, dtype: torch.dtype, device: str) -> Tensor:
    """``(tile + k - 1) × tile`` matrix whose column j holds the taps at rows j..j+k-1."""
    k = len(taps)
    band = torch.zeros(tile + k - 1, tile, dtype=dtype)
    values = torch.tensor(taps, dtype=dtype)
    for j in range(tile):
        band[j : j + k, j] = values
    return band.to(device)


def _tiles(out: int) -> list[tuple[int, int]]:
    """(start, length) of near-equal tiles of about TILE values covering ``out`` outputs."""
    count = max(1, round(out / TILE))
    size = math.ceil(out / count)
    return [(s, min(size, out - s)) for s in range(0, out, size)]


def separable_valid_filter(x: Tensor, taps: tuple[float, ...]) -> Tensor:
    """Correlate every H×W map of ``x`` (… × H × W) with ``taps ⊗ taps``, 'valid' output (… × H-k+1 × W-k+1)."""
    h, w = x.shape[-2:]
    k = len(taps)
    if h < k or w < k:
        raise ValueError(f"a {k}-tap window does not fit a {h}×{w} image")
    lead = x.shape[:-2]
    maps = x.reshape(-1, h, w)
    n = maps.shape[0]
    out_h, out_w = h - k + 1, w - k + 1
    device = str(x.device)

    # Each product writes straight into its columns / rows of the result (BLAS takes the leading dimension).
    rows = maps.reshape(n * h, w)
    along_w = torch.empty(n * h, out_w, dtype=x.dtype, device=x.device)
    for start, size in _tiles(out_w):
        torch.mm(rows[:, start : start + size + k - 1], _band(taps, size, x.dtype, device), out=along_w[:, start : start + size])

    columns = along_w.reshape(n, h, out_w)
    both = torch.empty(n, out_h, out_w, dtype=x.dtype, device=x.device)
    for start, size in _tiles(out_h):
        band_t = _band(taps, size, x.dtype, device).t()
        torch.matmul(band_t, columns[:, start : start + size + k - 1, :], out=both[:, start : start + size, :])
    return both.reshape(*lead, out_h, out_w)


def window_moments(x: Tensor, y: Tensor, taps: tuple[float, ...]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The 'valid' ``taps ⊗ taps`` filtering of x, y, x² + y² and xy (maps … × H × W), in one call.

    The window indices (SSIM, the sliding UIQI) need only these four moments: μx·μy, μx² + μy², E[xy] and
    E[x² + y²], so the fifth map of the textbook formulas is never filtered.
    """
    maps = torch.empty((4, *x.shape), dtype=x.dtype, device=x.device)
    maps[0].copy_(x)
    maps[1].copy_(y)
    torch.mul(x, x, out=maps[2]).addcmul_(y, y)
    torch.mul(x, y, out=maps[3])
    sum_x, sum_y, sum_sq, sum_xy = separable_valid_filter(maps, taps).unbind(0)
    return sum_x, sum_y, sum_sq, sum_xy
