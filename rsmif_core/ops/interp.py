"""Interpolators of the pansharpening toolbox: the 23-tap polynomial upsampler, its general-ratio
44-tap sibling, and MATLAB ``imresize``.

All three are separable linear maps, so each is built once per (size, ratio) as a dense float64 matrix per
axis and applied to a whole B×C×H×W batch with two matrix products (``y = A_h · x · A_wᵀ``). This gives
the toolbox numbers (up to rounding) without Python loops over bands or rows.

* :func:`interp23tap` — ``interp23tap.m``: zero insertion (the first level puts the samples at odd
  positions, later levels at even ones) followed by the symmetric 23-tap CDF filter with circular
  boundaries, once per factor 2. The MATLAB loop runs ``ratio/2`` times, which is right only for ratio 2
  and 4; we run ``log2(ratio)`` levels (as the toolbox's Python port does), so ratio 8 works too.
* :func:`interp23tap_general` — ``interp23tapGeneral.m`` of the 2021 benchmark toolbox, for any integer
  ratio: zero insertion at ``floor(ratio/2)+1, +ratio, ...`` (1-based), then ``ratio · fir1(44, 1/ratio)``
  (a Hamming-windowed sinc, MATLAB's ``fir1``) with circular boundaries along each axis.
* :func:`imresize` — MATLAB ``imresize`` (bicubic a = -0.5 by default, also bilinear and nearest;
  antialiasing on when shrinking except for nearest, symmetric boundary), used by D_s to reduce the
  PAN (``imresize(pan, 1/ratio)``), by the Wald simulator and by classical pansharpening methods.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from rsmif_core.ops.checks import check_image

_CDF23_HALF = 2.0 * np.array(
    [0.5, 0.305334091185, 0, -0.072698593239, 0, 0.021809577942, 0, -0.005192756653, 0, 0.000807762146, 0,
     -0.000060081482]
)
CDF23: np.ndarray = np.concatenate([_CDF23_HALF[1:][::-1], _CDF23_HALF])  # 23 symmetric taps


def _check_power_of_two(ratio: int) -> int:
    if int(ratio) != ratio or ratio < 1 or (int(ratio) & (int(ratio) - 1)):
        raise ValueError(f"interp23tap needs a ratio that is a power of 2, found {ratio!r}")
    return int(ratio)


def _circular_correlate(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Correlate each column of ``x`` (n×m) with ``taps`` along axis 0, circular boundary (imfilter 'circular')."""
    half = len(taps) // 2
    out = np.zeros_like(x)
    for k, tap in enumerate(taps):
        if tap != 0.0:
            out += tap * np.roll(x, half - k, axis=0)
    return out


@lru_cache(maxsize=64)
def interp23tap_matrix(n: int, ratio: int) -> np.ndarray:
    """The (ratio·n)×n float64 matrix of one axis of :func:`interp23tap`."""
    ratio = _check_power_of_two(ratio)
    mat = np.eye(n)
    for level in range(int(math.log2(ratio))):
        up = np.zeros((2 * mat.shape[0], n))
        up[(1 if level == 0 else 0) :: 2] = mat
        mat = _circular_correlate(up, CDF23)
    mat.setflags(write=False)
    return mat


def _apply_separable(x: Tensor, rows: np.ndarray, cols: np.ndarray) -> Tensor:
    a_h = torch.tensor(rows, device=x.device, dtype=x.dtype)
    a_w = torch.tensor(cols, device=x.device, dtype=x.dtype)
    return torch.matmul(torch.matmul(a_h, x), a_w.T)


def interp23tap(x: Tensor, ratio: int) -> Tensor:
    """Upsample B×C×h×w ``x`` by ``ratio`` (a power of 2) with the toolbox's 23-tap interpolator -> B×C×(ratio·h)×(ratio·w)."""
    check_image(x)
    ratio = _check_power_of_two(ratio)
    if ratio == 1:
        return x.clone()
    h, w = x.shape[-2:]
    return _apply_separable(x, interp23tap_matrix(h, ratio), interp23tap_matrix(w, ratio))


GENERAL_ORDER = 44  # interp23tapGeneral.m: L = 44 (45 taps)


def fir1_lowpass(order: int, cutoff: float) -> np.ndarray:
    """MATLAB ``fir1(order, cutoff)``: a Hamming-windowed ideal low-pass of ``order + 1`` taps, DC gain 1.

    ``cutoff`` is relative to the Nyquist frequency (0 < cutoff < 1). GNU Octave's ``fir1`` samples the
    response with ``fir2`` instead and differs by ~1e-3; this follows MATLAB's window method.
    """
    if not 0.0 < cutoff < 1.0:
        raise ValueError(f"fir1: the cutoff must lie in (0, 1), found {cutoff}")
    n = np.arange(order + 1) - order / 2
    taps = cutoff * np.sinc(cutoff * n) * np.hamming(order + 1)
    return taps / taps.sum()


@lru_cache(maxsize=64)
def interp23tap_general_matrix(n: int, ratio: int) -> np.ndarray:
    """The (ratio·n)×n float64 matrix of one axis of :func:`interp23tap_general`."""
    if int(ratio) != ratio or ratio < 1:
        raise ValueError(f"interp23tap_general needs a positive integer ratio, found {ratio!r}")
    ratio = int(ratio)
    up = np.zeros((ratio * n, n))
    up[ratio // 2 :: ratio] = np.eye(n)
    if ratio > 1:
        up = _circular_correlate(up, ratio * fir1_lowpass(GENERAL_ORDER, 1.0 / ratio))
    up.setflags(write=False)
    return up


def interp23tap_general(x: Tensor, ratio: int) -> Tensor:
    """Upsample B×C×h×w ``x`` by any integer ``ratio`` with the toolbox's ``interp23tapGeneral`` -> B×C×(ratio·h)×(ratio·w)."""
    check_image(x)
    h, w = x.shape[-2:]
    return _apply_separable(x, interp23tap_general_matrix(h, ratio), interp23tap_general_matrix(w, ratio))


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


def _triangle(x: np.ndarray) -> np.ndarray:
    return (x + 1) * ((-1 <= x) & (x < 0)) + (1 - x) * ((0 <= x) & (x <= 1))


def _box(x: np.ndarray) -> np.ndarray:
    return ((-0.5 <= x) & (x < 0.5)).astype(np.float64)


# MATLAB imresize kernels and their widths
_KERNELS = {"bicubic": (_cubic, 4.0), "bilinear": (_triangle, 2.0), "nearest": (_box, 1.0)}


def _kernel(method: str) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    if method not in _KERNELS:
        raise ValueError(f"imresize: unknown method {method!r}; expected one of {', '.join(_KERNELS)}")
    return _KERNELS[method]


@lru_cache(maxsize=64)
def imresize_matrix(in_len: int, out_len: int, scale: float, antialias: bool | None = None,
                    method: str = "bicubic") -> np.ndarray:
    """The out×in float64 matrix of MATLAB ``imresize`` along one axis (``contributions``).

    ``antialias=None`` is MATLAB's default: on, except for ``method="nearest"``.
    """
    kernel, width = _kernel(method)
    if antialias is None:
        antialias = method != "nearest"
    shrink = scale < 1 and antialias
    # antialiasing stretches the kernel by 1/scale when shrinking
    kernel_width = width / scale if shrink else width
    stretch = scale if shrink else 1.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based
    weights = stretch * kernel(stretch * (u[:, None] - idx))
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    idx0 = mirror[np.mod(idx.astype(np.int64) - 1, mirror.size)]
    mat = np.zeros((out_len, in_len))
    np.add.at(mat, (np.repeat(np.arange(out_len), taps), idx0.ravel()), weights.ravel())
    mat.setflags(write=False)
    return mat


def imresize(x: Tensor, scale: float | None = None, size: tuple[int, int] | None = None,
             antialias: bool | None = None, method: str = "bicubic") -> Tensor:
    """MATLAB ``imresize(I, scale, method)`` or ``imresize(I, [h w], method)`` on B×C×H×W float ``x``.

    ``method`` is ``"bicubic"`` (MATLAB's default), ``"bilinear"`` or ``"nearest"``; ``antialias=None``
    is MATLAB's default (on when shrinking, except for nearest). With ``scale`` the output is
    ``ceil(scale·H)×ceil(scale·W)`` and the kernel uses ``scale`` itself (as MATLAB does), not the ratio
    of the rounded sizes. No rounding or clamping of the output (double input).
    """
    check_image(x)
    _kernel(method)
    h, w = x.shape[-2:]
    if (scale is None) == (size is None):
        raise ValueError("imresize: give exactly one of scale or size")
    if scale is not None:
        if scale <= 0:
            raise ValueError(f"imresize: scale must be positive, found {scale}")
        out_h, out_w = math.ceil(scale * h), math.ceil(scale * w)
        scale_h = scale_w = float(scale)
    else:
        assert size is not None
        out_h, out_w = int(size[0]), int(size[1])
        if out_h < 1 or out_w < 1:
            raise ValueError(f"imresize: output size must be positive, found {size}")
        scale_h, scale_w = out_h / h, out_w / w
    return _apply_separable(
        x,
        imresize_matrix(h, out_h, scale_h, antialias, method),
        imresize_matrix(w, out_w, scale_w, antialias, method),
    )
