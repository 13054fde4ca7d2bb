"""What every classical method shares: the scene on the DN scale, MATLAB's band statistics, least squares,
the toolbox's upsampler choice and its MTF-matched generalized Laplacian pyramid low-pass.

Images are B×C×H×W float64 tensors on the DN scale (the toolbox's), statistics are per image and band.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

import rsmif_core

EPS = 2.220446049250313e-16  # MATLAB eps: the toolbox adds it to every divisor of a ratio


@dataclass(frozen=True)
class Scene:
    """One batch as a toolbox function receives it: ``ms`` = I_MS_LR, ``lms`` = I_MS, ``pan`` = I_PAN (DN scale)."""

    ms: Tensor
    lms: Tensor
    pan: Tensor
    ratio: int
    sensor: str
    gains: tuple[float, ...]  # per-band Nyquist gains of the MS sensor

    @property
    def bands(self) -> int:
        return int(self.lms.shape[1])


def mean2(x: Tensor) -> Tensor:
    """Mean over the pixels of every image and band (``mean2``), shaped B×C×1×1."""
    return x.mean(dim=(-2, -1), keepdim=True)


def std2(x: Tensor) -> Tensor:
    """Sample standard deviation over the pixels (``std2``, N-1), shaped B×C×1×1."""
    return x.std(dim=(-2, -1), keepdim=True)


def cov2(a: Tensor, b: Tensor) -> Tensor:
    """Sample covariance of ``a`` and ``b`` over the pixels (``cov(a(:), b(:))(1, 2)``), shaped B×C×1×1."""
    n = a.shape[-2] * a.shape[-1]
    return ((a - mean2(a)) * (b - mean2(b))).sum(dim=(-2, -1), keepdim=True) / (n - 1)


def corr2(a: Tensor, b: Tensor) -> Tensor:
    """MATLAB ``corr2``: the correlation coefficient over the pixels, shaped B×C×1×1."""
    a = a - mean2(a)
    b = b - mean2(b)
    num = (a * b).sum(dim=(-2, -1), keepdim=True)
    return num / torch.sqrt((a * a).sum(dim=(-2, -1), keepdim=True) * (b * b).sum(dim=(-2, -1), keepdim=True))


def pixels(x: Tensor) -> Tensor:
    """B×C×H×W -> B×(H·W)×C, one row per pixel (a regression's design matrix)."""
    return x.flatten(-2).transpose(-1, -2)


def with_ones(x: Tensor) -> Tensor:
    """Append a constant band (``cat(3, I, ones)``)."""
    return torch.cat([x, torch.ones_like(x[:, :1])], dim=1)


def lstsq(design: Tensor, target: Tensor) -> Tensor:
    """MATLAB ``design \\ target`` for B×N×K ``design`` and B×N×M ``target`` -> B×K×M.

    A tall full-rank design is solved by Householder QR, as MATLAB does. With fewer rows than columns (a
    hyperspectral cube on a tiny image) we return the minimum-norm solution; MATLAB returns a "basic"
    solution with K - N zeros and a rank warning.
    """
    if design.shape[-2] < design.shape[-1]:
        return torch.linalg.pinv(design) @ target
    q, r = torch.linalg.qr(design, mode="reduced")
    return torch.linalg.solve_triangular(r, q.transpose(-1, -2) @ target, upper=True)


def regress_image(design: Tensor, target: Tensor) -> Tensor:
    """Global regression of B×1×H×W ``target`` on the bands of B×K×H×W ``design``: coefficients B×K×1×1."""
    return lstsq(pixels(design), pixels(target)).reshape(design.shape[0], -1, 1, 1)


def combine(design: Tensor, coefficients: Tensor) -> Tensor:
    """``sum(design .* coefficients, 3)``: B×K×H×W and B×K×1×1 -> B×1×H×W."""
    return (design * coefficients).sum(dim=1, keepdim=True)


def is_power_of_two(ratio: int) -> bool:
    return ratio >= 1 and ratio & (ratio - 1) == 0


def upsample(x: Tensor, ratio: int) -> Tensor:
    """The toolbox's ``interp23tap`` for powers of 2; its ``interp23tapGeneral`` (44 taps) for other ratios."""
    if is_power_of_two(ratio):
        return rsmif_core.interp23tap(x, ratio)
    return rsmif_core.interp23tap_general(x, ratio)


def glp_lowpass(x: Tensor, gains: tuple[float, ...], ratio: int) -> Tensor:
    """MTF-matched GLP low-pass of every band: ``imfilter(x, h_b, 'replicate')``, nearest 1/ratio, upsample."""
    return upsample(rsmif_core.decimate(rsmif_core.mtf_filter(x, gains, ratio), ratio), ratio)


def equalize(pan: Tensor, target: Tensor, spread: Tensor) -> Tensor:
    """``(P - mean2(P)) · std2(target) / spread + mean2(target)`` for every band of ``target``."""
    return (pan - mean2(pan)) * (std2(target) / spread) + mean2(target)


def prctile(x: Tensor, p: float) -> Tensor:
    """MATLAB ``prctile(x(:), p)`` of every image and band (sorted data at 100·(i-0.5)/n, linear between), B×C×1×1."""
    flat = x.flatten(-2)
    n = flat.shape[-1]
    pos = min(max(p / 100.0 * n - 0.5, 0.0), n - 1.0)  # 0-based position in the sorted data
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    low = torch.kthvalue(flat, lo + 1, dim=-1).values
    high = torch.kthvalue(flat, hi + 1, dim=-1).values if hi != lo else low
    return (low + frac * (high - low))[..., None, None]


def column_major(x: Tensor) -> Tensor:
    """B×C×H×W -> B×(H·W)×C with pixels in MATLAB's ``x(:)`` order (columns first): tie-breaking follows MATLAB's."""
    return x.transpose(-1, -2).flatten(-2).transpose(-1, -2)


def from_column_major(v: Tensor, height: int, width: int) -> Tensor:
    """Inverse of :func:`column_major` for one value per pixel: B×(H·W) -> B×H×W."""
    return v.reshape(v.shape[0], width, height).transpose(-1, -2)
