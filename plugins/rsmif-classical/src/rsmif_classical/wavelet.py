"""The toolbox's undecimated "à trous" low-pass (``LPfilter.m``, ``LPfilterPlusDec.m``, AWLP, FE).

The toolbox decomposes with ``ndwt2_working`` (the Starck-Murtagh B3 spline pair ``h = √2·[1 4 6 4 1]/16``,
half-point symmetric extension, each level's approximation 4 samples longer per side pair, the filters not
dilated), zeroes every detail band and reconstructs with ``indwt2_working(WT, 'c')`` (full convolution with
the same filter, central crop, ``/4`` per level). With the details zeroed that is one separable linear map
per axis; we build its matrix once per (size, levels) by running the 1-D steps on the identity, and
apply it to a whole batch with two matrix products.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

_H = tuple(math.sqrt(2.0) * t / 16.0 for t in (1.0, 4.0, 6.0, 4.0, 1.0))
_TAPS = len(_H)


def _convolve_full(x: Tensor) -> Tensor:
    """Full convolution of every column of ``x`` with the (symmetric) filter: length n + 4."""
    out = torch.zeros(x.shape[0] + _TAPS - 1, x.shape[1], dtype=x.dtype)
    for k, tap in enumerate(_H):
        out[k : k + x.shape[0]] += tap * x
    return out


def _decompose(x: Tensor) -> Tensor:
    """One level of ``wdec1D`` ('sym' mode), approximation only: length n -> n + 4."""
    n = x.shape[0]
    before = x[: _TAPS - 1].flip(0)  # x[3], x[2], x[1], x[0]
    after = x[n - _TAPS :].flip(0)  # x[n-1] ... x[n-5]
    full = _convolve_full(torch.cat([before, x, after]))
    kept = full[_TAPS - 1 : full.shape[0] - _TAPS + 1]  # n + 5
    return kept[: n + _TAPS - 1]


def _reconstruct(a: Tensor, length: int) -> Tensor:
    """One level of ``recFUNC`` along one axis with zero details: convolve, central crop, half of the ``/4``."""
    full = _convolve_full(a)
    first = (full.shape[0] - length) // 2
    return full[first : first + length] / 2.0


@lru_cache(maxsize=64)
def atrous_matrix(n: int, levels: int) -> Tensor:
    """The n×n float64 (CPU) matrix of the toolbox's à trous low-pass (``levels`` levels) along one axis."""
    if n < _TAPS:
        raise ValueError(f"the toolbox's undecimated wavelet low-pass needs images of at least {_TAPS} pixels a side, found {n}")
    mat = torch.eye(n, dtype=torch.float64)
    for _ in range(levels):
        mat = _decompose(mat)
    for level in range(levels, 0, -1):
        mat = _reconstruct(mat, n + (_TAPS - 1) * (level - 1))
    return mat


def levels_for(ratio: int) -> int:
    """``ceil(log2(ratio))``, the number of levels the toolbox uses for a scale ratio."""
    return max(math.ceil(math.log2(ratio)), 0)


def atrous_lowpass(x: Tensor, ratio: int) -> Tensor:
    """``LPfilter(x, ratio)`` of every band of B×C×H×W ``x`` (same size)."""
    levels = levels_for(ratio)
    h, w = x.shape[-2:]
    rows = atrous_matrix(h, levels).to(device=x.device, dtype=x.dtype)
    cols = atrous_matrix(w, levels).to(device=x.device, dtype=x.dtype)
    return rows @ x @ cols.T
