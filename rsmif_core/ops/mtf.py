"""Sensor MTF-matched Gaussian filters, the one implementation shared by the metrics and the Wald simulator.

Follows ``genMTF.m`` / ``MTF.m`` / ``MTF_PAN.m`` / ``resize_images.m`` of Vivone's pansharpening toolbox
(copy in liangjiandeng/DLPan-Toolbox):

* a 41×41 Gaussian whose frequency response has gain ``GNyq`` at the MS Nyquist frequency
  (``alpha = sqrt(((N-1) * fcut/2)^2 / (-2 ln GNyq))``, ``fcut = 1/ratio``), built like
  ``fspecial('gaussian')`` (values below ``eps * max`` zeroed), scaled to peak 1, is used as the
  *desired frequency response* of MATLAB ``fwind1(Hd, kaiser(41))``: frequency sampling (``fsamp2``)
  times a 2-D window obtained by rotating the 1-D Kaiser window (beta 0.5, Huang's method);
* the kernel is **not** renormalised to sum 1 (sum ≈ 0.9988 for WV3 band 1), exactly as the toolbox;
* filtering is ``imfilter(I, h, 'replicate')``: correlation, output the input size, edge replication;
* ``LPfilterGauss.m`` (:func:`lp_filter_gauss`) is the same construction with gain 0.3 and ``N`` for ``N-1``.

Differences from the authors' Python port (``utils/FS_index/genMTF.py``): gains are float64 here (the
port stores them as float32, which moves the kernel by ~7e-9) and the WV2 entry works (the port's is a
ragged list). Kernels are computed once per (gains, ratio) in float64 numpy and cached.

Difference from the toolbox: a 4-band image of WV2 or WV3 (the blue, green, red, NIR1 product those
satellites are mostly delivered as) gets those four bands' gains, where ``genMTF`` would index past its
8-band table.

Tensors are B×C×H×W, any float dtype (float64 recommended for parity with the toolbox).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rsmif_core.errors import UsageError
from rsmif_core.ops.checks import check_image

KERNEL_SIZE = 41
KAISER_BETA = 0.5  # MATLAB kaiser(N) default

# Nyquist gains per MS band, in the band order of _BAND_NAMES, and for PAN.
# None for the PAN gain means the toolbox's MTF_PAN has no entry; we then use the generic 0.15.
_MS_GAINS: dict[str, tuple[float, ...]] = {
    "QB": (0.34, 0.32, 0.30, 0.22),
    "IKONOS": (0.26, 0.28, 0.29, 0.28),
    "GeoEye1": (0.23, 0.23, 0.23, 0.23),
    "WV4": (0.23, 0.23, 0.23, 0.23),
    "WV2": (0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.27),
    "WV3": (0.325, 0.355, 0.360, 0.350, 0.365, 0.360, 0.335, 0.315),
}
_PAN_GAINS: dict[str, float] = {"QB": 0.15, "IKONOS": 0.17, "GeoEye1": 0.16, "WV4": 0.16, "WV2": 0.11, "WV3": 0.14}
_FOUR_BANDS = ("blue", "green", "red", "NIR")
_EIGHT_BANDS = ("coastal", "blue", "green", "yellow", "red", "red edge", "NIR1", "NIR2")
_BAND_NAMES: dict[str, tuple[str, ...]] = {
    "QB": _FOUR_BANDS, "IKONOS": _FOUR_BANDS, "GeoEye1": _FOUR_BANDS, "WV4": _FOUR_BANDS,
    "WV2": _EIGHT_BANDS, "WV3": _EIGHT_BANDS,
}
# The 4-band product that WorldView-2/3 imagery is most often delivered as: the 8-band sensor's blue, green,
# red and NIR1 bands. The toolbox's tables hold only the 8-band gains; these bands take theirs.
FOUR_BAND_PRODUCT: tuple[str, ...] = ("blue", "green", "red", "NIR1")
GENERIC_MS_GAIN = 0.3  # genMTF 'otherwise' branch (GF2 and Pléiades fall here: the toolbox has no entry)
GENERIC_PAN_GAIN = 0.15  # MTF_PAN 'none'
LP_GAUSS_GAIN = 0.3  # LPfilterGauss.m

# Accepted spellings -> canonical toolbox key. 'GF2', 'Pleiades' and 'none' use the generic gains.
_ALIASES: dict[str, str] = {
    "qb": "QB", "quickbird": "QB",
    "ikonos": "IKONOS",
    "geoeye1": "GeoEye1", "geoeye-1": "GeoEye1", "ge1": "GeoEye1", "geoeye": "GeoEye1",
    "wv4": "WV4", "worldview4": "WV4", "worldview-4": "WV4",
    "wv2": "WV2", "worldview2": "WV2", "worldview-2": "WV2",
    "wv3": "WV3", "worldview3": "WV3", "worldview-3": "WV3",
    "gf2": "GF2", "gaofen2": "GF2", "gaofen-2": "GF2",
    "pleiades": "Pleiades", "pléiades": "Pleiades", "phr": "Pleiades",
    "none": "none", "generic": "none",
}
SENSORS: tuple[str, ...] = ("WV3", "WV2", "WV4", "QB", "IKONOS", "GeoEye1", "GF2", "Pleiades", "none")

GainSpec = str | float | Sequence[float]


class UnknownSensorError(UsageError):
    """A sensor name that is not in the MTF table."""


def canonical_sensor(sensor: str | None) -> str:
    """Map a user spelling ('wv3', 'QuickBird', 'GeoEye-1', None ...) to the toolbox key, or raise listing the known ones."""
    if sensor is None:
        return "none"
    key = _ALIASES.get(str(sensor).strip().lower())
    if key is None:
        raise UnknownSensorError(
            f"unknown sensor {sensor!r}; known sensors: {', '.join(SENSORS)} "
            f"(case-insensitive; aliases: {', '.join(sorted(_ALIASES))})"
        )
    return key


@dataclass(frozen=True)
class GainChoice:
    """The per-band Nyquist gains chosen for a sensor and band count, and where they come from."""

    sensor: str  # the toolbox key
    gains: tuple[float, ...]
    bands: tuple[str, ...] | None  # the bands the gains belong to, where the table names them
    source: str  # in words, for messages and the files that record the gains
    subset: bool = False  # the gains of some of the table's bands (a 4-band product of an 8-band sensor)


def choose_ms_gains(sensor: str | None, bands: int) -> GainChoice:
    """Per-band Nyquist gains of ``sensor`` for an image of ``bands`` bands, with how they were chosen.

    Sensors without a table entry (GF2, Pléiades, none) get 0.3 for every band (genMTF 'otherwise').
    A table whose gains are all equal is broadcast to any band count. A 4-band image of an 8-band sensor
    (WV2, WV3) is taken as the 4-band product and gets the gains of blue, green, red and NIR1 (the toolbox
    has no entry for it and would index past its filter bank). Any other band count must match the table.
    """
    key = canonical_sensor(sensor)
    gains = _MS_GAINS.get(key)
    if gains is None:
        return GainChoice(key, (GENERIC_MS_GAIN,) * bands, None,
                          f"generic gain {GENERIC_MS_GAIN} (the toolbox has no MTF table for {key})")
    names = _BAND_NAMES.get(key)
    if len(gains) == bands:
        return GainChoice(key, gains, names, f"{key} table")
    if len(set(gains)) == 1:
        return GainChoice(key, (gains[0],) * bands, None, f"{key} table (one gain for every band)")
    if bands == len(FOUR_BAND_PRODUCT) and names is not None:
        picked = tuple(gains[names.index(band)] for band in FOUR_BAND_PRODUCT)
        return GainChoice(key, picked, FOUR_BAND_PRODUCT,
                          f"{key} table, bands {', '.join(FOUR_BAND_PRODUCT)} (the 4-band product)", subset=True)
    raise ValueError(
        f"sensor {key} has MTF gains for {len(gains)} bands, but the image has {bands} bands "
        f"(a 4-band image is taken as the bands {', '.join(FOUR_BAND_PRODUCT)}); pass sensor='none' "
        f"(generic gain {GENERIC_MS_GAIN}) or explicit per-band gains"
    )


def ms_gains(sensor: str | None, bands: int) -> tuple[float, ...]:
    """Per-band Nyquist gains of ``sensor`` for an image of ``bands`` bands (see :func:`choose_ms_gains`)."""
    return choose_ms_gains(sensor, bands).gains


def pan_gain(sensor: str | None) -> float:
    """Nyquist gain of the PAN channel (``MTF_PAN.m``); sensors without an entry get 0.15 ('none')."""
    return _PAN_GAINS.get(canonical_sensor(sensor), GENERIC_PAN_GAIN)


def _resolve_gains(sensor: GainSpec | None, bands: int) -> tuple[float, ...]:
    if sensor is None or isinstance(sensor, str):
        return ms_gains(sensor, bands)
    if isinstance(sensor, (int, float)):
        return (float(sensor),) * bands
    gains = tuple(float(g) for g in sensor)
    if len(gains) != bands:
        raise ValueError(f"{len(gains)} MTF gains given for an image of {bands} bands")
    return gains


def _check_gain(gnyq: float) -> None:
    if not 0.0 < gnyq < 1.0:
        raise ValueError(f"a Nyquist gain must lie in (0, 1), found {gnyq}")


def _fspecial_gaussian(n: int, sigma: float) -> np.ndarray:
    half = (n - 1) / 2
    t = np.arange(-half, half + 1)
    x, y = np.meshgrid(t, t)
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0.0
    return h / h.sum()


def _huang_window(n: int, beta: float) -> np.ndarray:
    """2-D window from a 1-D Kaiser window by rotation (MATLAB fwind1 with one 1-D window)."""
    t = np.arange(-(n - 1) / 2, (n + 1) / 2) / (n - 1)
    t1, t2 = np.meshgrid(t, t)
    radius = np.sqrt(t1 * t1 + t2 * t2)
    w = np.interp(radius, t, np.kaiser(n, beta))
    w[radius > t[-1]] = 0.0
    return w


def _fwind1(hd: np.ndarray, window: np.ndarray) -> np.ndarray:
    """MATLAB ``fwind1(Hd, w)``: ``fsamp2(Hd) .* w`` (real part, as MTF.m takes)."""
    spectrum = np.rot90(np.fft.fftshift(np.rot90(hd, 2)), 2)
    h = np.rot90(np.fft.fftshift(np.fft.ifft2(spectrum)), 2)
    return np.real(h * window)


@lru_cache(maxsize=256)
def _kernel_np(gnyq: float, ratio: int, size: int = KERNEL_SIZE, span: int = KERNEL_SIZE - 1) -> np.ndarray:
    """``span`` is the length in ``alpha``'s numerator: N-1 in genMTF/MTF_PAN, N in LPfilterGauss."""
    _check_gain(gnyq)
    fcut = 1.0 / ratio
    alpha = math.sqrt((span * (fcut / 2)) ** 2 / (-2.0 * math.log(gnyq)))
    gauss = _fspecial_gaussian(size, alpha)
    hd = gauss / gauss.max()
    kernel = _fwind1(hd, _huang_window(size, KAISER_BETA))
    kernel.setflags(write=False)
    return kernel


def mtf_kernel(gnyq: float, ratio: int) -> np.ndarray:
    """The 41×41 float64 MTF-matched kernel for one Nyquist gain (``genMTF`` for one band)."""
    _check_ratio(ratio)
    return np.array(_kernel_np(float(gnyq), int(ratio)))


def mtf_kernels(sensor: GainSpec | None, ratio: int, bands: int) -> np.ndarray:
    """``genMTF(ratio, sensor, bands)`` as a bands×41×41 float64 array.

    ``sensor`` is a sensor name (see :data:`SENSORS`), one gain for every band, or per-band gains.
    """
    _check_ratio(ratio)
    return np.stack([_kernel_np(g, int(ratio)) for g in _resolve_gains(sensor, bands)])


def _check_ratio(ratio: int) -> None:
    if int(ratio) != ratio or ratio < 1:
        raise ValueError(f"ratio must be a positive integer, found {ratio!r}")


def filter_replicate(x: Tensor, kernels: Tensor) -> Tensor:
    """Per-band correlation of B×C×H×W ``x`` with C×k×k ``kernels``, replicate padding, same size.

    MATLAB ``imfilter(I, h, 'replicate')``. Computed with FFTs (exact up to rounding; a direct 41×41
    convolution is ~50× slower on CPU). The kernel spectrum is computed once. On CPU the images are
    filtered one at a time with ``scipy.fft`` on torch's intra-op thread count: one image's FFT buffers
    stay in cache, and scipy takes the thread count per call, so nothing process-wide is changed. When a
    gradient is needed (a loss), ``torch.fft`` does it on any device.
    """
    check_image(x)
    c, k = kernels.shape[0], kernels.shape[-1]
    if c != x.shape[1]:
        raise ValueError(f"{c} kernels for an image of {x.shape[1]} bands")
    pad = k // 2
    h, w = x.shape[-2:]
    # Correlation = convolution with the flipped kernel. A circular convolution of length >= the padded
    # size only wraps into the first k-1 outputs, which the slice drops, so any fast length is exact.
    size = (_fast_length(h + 2 * pad), _fast_length(w + 2 * pad))
    kern = kernels.to(device=x.device, dtype=x.dtype).flip(-1, -2)
    crop = (..., slice(2 * pad, 2 * pad + h), slice(2 * pad, 2 * pad + w))
    differentiate = torch.is_grad_enabled() and (x.requires_grad or kern.requires_grad)  # full-resolution losses
    if x.device.type != "cpu" or differentiate:
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        return torch.fft.irfft2(torch.fft.rfft2(padded, s=size) * torch.fft.rfft2(kern, s=size), s=size)[crop]
    import scipy.fft

    workers = torch.get_num_threads()
    spec_k = scipy.fft.rfft2(kern.numpy(), s=size, workers=workers)
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        image = F.pad(x[i : i + 1], (pad, pad, pad, pad), mode="replicate")[0].numpy()
        spectrum = scipy.fft.rfft2(image, s=size, workers=workers) * spec_k
        out[i] = torch.from_numpy(scipy.fft.irfft2(spectrum, s=size, workers=workers)[crop])
    return out


def _fast_length(n: int) -> int:
    """The smallest 2^a·3^b·5^c >= n (FFT lengths with small prime factors)."""
    best = 1 << max(n - 1, 0).bit_length()
    p3 = 1
    while p3 < best:
        p35 = p3
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 5
        p3 *= 3
    return best


def mtf_filter(x: Tensor, sensor: GainSpec | None, ratio: int) -> Tensor:
    """Low-pass every band of B×C×H×W ``x`` with its sensor MTF filter (toolbox ``MTF.m``); same size."""
    check_image(x)
    kernels = torch.from_numpy(mtf_kernels(sensor, ratio, x.shape[1]))
    return filter_replicate(x, kernels)


def mtf_filter_pan(x: Tensor, sensor: str | None, ratio: int) -> Tensor:
    """Low-pass B×1×H×W (or B×C) PAN with the PAN MTF filter (toolbox ``MTF_PAN.m``); same size."""
    check_image(x, "pan")
    kernel = torch.from_numpy(mtf_kernel(pan_gain(sensor), ratio))
    return filter_replicate(x, kernel.expand(x.shape[1], -1, -1))


def lp_gauss_kernel(ratio: int) -> np.ndarray:
    """The 41×41 float64 kernel of the toolbox's ``LPfilterGauss.m`` (a sensor-independent PAN low-pass).

    Built like a ``genMTF`` kernel with Nyquist gain 0.3, except that the Gaussian width uses ``N = 41``
    where genMTF uses ``N - 1``: ``alpha = sqrt((N·fcut/2)² / (-2 ln 0.3))``, a slightly wider frequency
    response (it smooths a little less than a genMTF kernel of gain 0.3).
    """
    _check_ratio(ratio)
    return np.array(_kernel_np(LP_GAUSS_GAIN, int(ratio), KERNEL_SIZE, KERNEL_SIZE))


def lp_filter_gauss(x: Tensor, ratio: int) -> Tensor:
    """Low-pass every band of B×C×H×W ``x`` with :func:`lp_gauss_kernel` (toolbox ``LPfilterGauss.m``); same size.

    Used by the toolbox's BT-H, MTF-GLP, MTF-GLP-HPM and C-GSA (its low-resolution PAN) and the haze-corrected HPM.
    """
    check_image(x)
    kernel = torch.from_numpy(lp_gauss_kernel(ratio))
    return filter_replicate(x, kernel.expand(x.shape[1], -1, -1))


def decimate(x: Tensor, ratio: int) -> Tensor:
    """MATLAB ``imresize(I, 1/ratio, 'nearest')``: keeps rows/columns ``ratio//2, ratio//2 + ratio, ...``."""
    check_image(x)
    _check_ratio(ratio)
    h, w = x.shape[-2:]
    if h % ratio or w % ratio:
        raise ValueError(f"ratio {ratio} does not divide the image size {h}×{w}")
    off = ratio // 2
    return x[..., off::ratio, off::ratio]


def mtf_degrade(x: Tensor, sensor: GainSpec | None, ratio: int) -> Tensor:
    """MTF-matched decimation of the MS for the Wald protocol (``resize_images.m``): filter, then nearest 1/ratio."""
    return decimate(mtf_filter(x, sensor, ratio), ratio)


def mtf_degrade_pan(x: Tensor, sensor: str | None, ratio: int) -> Tensor:
    """PAN degraded with its MTF filter then decimated (the MTF-based PAN reduction of the 2021 benchmark).

    ``resize_images.m`` of the DLPan copy instead uses ``imresize(pan, 1/ratio)`` (bicubic): that is
    :func:`rsmif_core.ops.interp.imresize` with ``scale=1/ratio``.
    """
    return decimate(mtf_filter_pan(x, sensor, ratio), ratio)
