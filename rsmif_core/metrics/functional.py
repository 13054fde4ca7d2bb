"""Functional quality indices: batched torch, B×C×H×W, one value per image (a (B,) float64 tensor).

Definitions follow Vivone's pansharpening toolbox (``indexes_evaluation.m`` /
``indexes_evaluation_FS.m``, the copy in liangjiandeng/DLPan-Toolbox) unless ``protocol="authors"``,
which reproduces the RSMIF authors' ``utils/metrics.py`` as their test solver calls it (see
:mod:`rsmif_core.metrics.authors`). Every input is converted to float64 on its own device.

Scale: the indices are computed on the values as given. Q2n and D_λ^K quantise like MATLAB
``uint16`` and are only meaningful on the DN scale (e.g. 0..2047); SAM, ERGAS, Q, SCC, CC, D_λ, D_s
are scale-invariant; RMSE is in the input's units; PSNR and SSIM take ``data_range`` in those units.

Options of every reduced-resolution index: ``border`` (the toolbox's ``dim_cut``, see
:func:`rsmif_core.metrics.checks.cut_border`) and ``clip`` (the toolbox's ``th_values``: ``None``, an
upper bound ``hi`` meaning [0, hi] — 2048 = 2^11 reproduces the toolbox on 11-bit data — or ``(lo, hi)``),
applied to the fused image only, after the cut. ``kernels`` chooses where the statistics of an index are
computed: ``"numba"`` (default) runs CPU tensors through the fused kernels of
:mod:`rsmif_core.metrics.kernels`, ``"torch"`` through batched torch ops (what other devices always use);
both give the same values to rounding, and indices without a CPU kernel (D_λ, D_s, QNR) ignore it.

Degenerate inputs give documented values, never a silent NaN from a division by zero: a flat window
in Q/D_λ/D_s follows ``img_qi.m`` (see :mod:`rsmif_core.metrics.uiqi`); SAM ignores zero-vector pixels
and is 0 when every pixel is a zero vector; CC is 1 when both bands are flat and 0 when only one is,
SCC likewise for zero gradient energy (its Sobel pads with zeros, so only an all-zero image has none); ERGAS/RASE are ``inf`` when a reference band mean is 0; PSNR is ``inf`` for identical images.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rsmif_core.metrics import authors
from rsmif_core.metrics.checks import (
    ClipSpec,
    MetricInputError,
    apply_clip,
    as_image,
    check_block,
    check_multiple,
    check_protocol,
    check_ratio,
    cut_border,
    pair,
)
from rsmif_core.metrics.chunks import over_leading
from rsmif_core.metrics.filters import gaussian_taps, window_moments
from rsmif_core.metrics.moments import (
    Kernels,
    angle_sums,
    band_mse,
    band_pearson,
    band_statistics,
    sobel_sums,
    ssim_means,
)
from rsmif_core.metrics.q2n import q2n_value
from rsmif_core.metrics.uiqi import q_blocks, q_blocks_pairwise, q_sliding
from rsmif_core.ops.interp import imresize, interp23tap
from rsmif_core.ops.mtf import GainSpec, UnknownSensorError, canonical_sensor, mtf_filter
from rsmif_core.types import shape_text

__all__ = [
    "cc", "d_lambda", "d_lambda_k", "d_s", "ergas", "hqnr", "psnr", "q2n", "q_index", "qnr", "rase", "rmse",
    "sam", "scc", "ssim",
]


def _prepare(fused: Tensor, reference: Tensor, border: int, clip: ClipSpec, protocol: str) -> tuple[Tensor, Tensor]:
    check_protocol(protocol)
    f, r = pair(fused, reference)
    f = cut_border(f, border)
    r = cut_border(r, border)
    return apply_clip(f, clip), r


# ----------------------------------------------------------------------------- reduced resolution


def _mse_and_mean(f: Tensor, r: Tensor, kernels: Kernels) -> tuple[Tensor, Tensor]:
    """Mean squared error and reference mean of every band (B×C each)."""
    stats = band_statistics(f, r, kernels)
    return band_mse(stats, f.shape[-2] * f.shape[-1]), stats[..., 1]


def sam(fused: Tensor, reference: Tensor, *, border: int = 0, clip: ClipSpec = None,
        protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Spectral angle mapper in degrees (``SAM.m``): mean angle over pixels whose vectors are both non-zero.

    The toolbox's ``real(acos(.))`` equals clamping the cosine to [-1, 1]. ``protocol="authors"``
    (``SAM_numpy``) counts zero-vector pixels as angle 0 in the mean instead of dropping them.
    """
    f, r = _prepare(fused, reference, border, clip, protocol)
    if protocol == "authors":
        return over_leading(authors.sam, f, r)
    total, count = angle_sums(f, r, kernels).unbind(-1)
    return torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total)) * 180 / math.pi


def ergas(fused: Tensor, reference: Tensor, ratio: float = 4, *, border: int = 0, clip: ClipSpec = None,
          protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """ERGAS (``ERGAS.m``): ``100/ratio · sqrt(mean_c MSE_c / mean(reference_c)²)``, ratio = PAN/MS scale (4).

    ``protocol="authors"`` (``ERGAS_numpy``) divides by the *fused* band mean; their ``ratio=0.25``
    argument is the same factor 25 as ``ratio=4`` here.
    """
    if ratio <= 0:
        raise MetricInputError(f"ergas: ratio must be positive, found {ratio}")
    f, r = _prepare(fused, reference, border, clip, protocol)
    if protocol == "authors":
        return over_leading(lambda f, r: authors.ergas(f, r, ratio), f, r)

    mse, mean_r = _mse_and_mean(f, r, kernels)
    return 100.0 / ratio * torch.sqrt((mse / mean_r**2).mean(-1))


def q_index(fused: Tensor, reference: Tensor, block_size: int = 32, *, border: int = 0, clip: ClipSpec = None,
            protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """UIQI (``Q.m`` -> ``img_qi``): per band, mean over ``block_size`` windows sliding by one pixel; mean over bands.

    ``protocol="authors"`` is their ``UIQC_numpy``: one global index per band (no windows).
    """
    f, r = _prepare(fused, reference, border, clip, protocol)
    if protocol == "authors":
        return over_leading(authors.q_index, f, r)
    check_block(f.shape[-2], f.shape[-1], block_size, "q_index")
    return q_sliding(r, f, block_size, kernels).mean(-1)


def q2n(fused: Tensor, reference: Tensor, block_size: int = 32, shift: int = 32, *, border: int = 0,
        clip: ClipSpec = None, quantise: bool = True, protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Q2n / Q4 / Q8 (``q2n.m``) on any band count and size; inputs on the DN scale (quantised like ``uint16``).

    See :mod:`rsmif_core.metrics.q2n` for the steps. ``quantise=False`` skips the ``uint16`` rounding
    (not the toolbox; for data that is not on an integer DN scale). The authors' solver computes no
    Q2n, so ``protocol="authors"`` gives the toolbox value (their ``FS_index`` port approximates it,
    and raises for band counts that are not powers of 2).
    """
    f, r = _prepare(fused, reference, border, clip, protocol)
    if int(shift) != shift or shift < 1:
        raise MetricInputError(f"q2n: shift must be a positive integer, found {shift!r}")
    check_block(f.shape[-2], f.shape[-1], block_size, "q2n")
    try:
        return q2n_value(r, f, int(block_size), int(shift), quantise, kernels)
    except ValueError as exc:
        raise MetricInputError(str(exc)) from None


def scc(fused: Tensor, reference: Tensor, *, border: int = 0, clip: ClipSpec = None,
        protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Spatial correlation coefficient (``SCC.m``): Sobel gradient magnitudes of the interior of every band,
    then one uncentred normalised cross-correlation over all bands.

    ``protocol="authors"`` (``SCC_numpy``) differentiates along the *spectral* axis and averages per-band
    Pearson correlations — a different quantity.
    """
    f, r = _prepare(fused, reference, border, clip, protocol)
    if protocol == "authors":
        return authors.scc(f, r)
    if min(f.shape[-2:]) < 3:
        raise MetricInputError(f"scc: images must be at least 3×3, found {shape_text(f)}")
    b, c, h, w = f.shape

    per_map = sobel_sums(f.reshape(b * c, h, w), r.reshape(b * c, h, w), kernels)
    cross, ef, er = per_map.reshape(b, c, 3).sum(1).unbind(-1)
    nf, nr = torch.sqrt(ef), torch.sqrt(er)
    den = nf * nr
    both_flat = ((nf == 0) & (nr == 0)).to(den.dtype)
    return torch.where(den > 0, cross / torch.where(den > 0, den, torch.ones_like(den)), both_flat)


def psnr(fused: Tensor, reference: Tensor, data_range: float, *, border: int = 0, clip: ClipSpec = None,
         protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """PSNR in dB, per band ``10 log10(data_range² / MSE_c)``, mean over bands (as ``MPSNR_numpy``; the
    toolbox has no PSNR). ``inf`` for a band reproduced exactly."""
    if data_range <= 0:
        raise MetricInputError(f"psnr: data_range must be positive, found {data_range}")
    f, r = _prepare(fused, reference, border, clip, protocol)

    return (10 * torch.log10(data_range**2 / _mse_and_mean(f, r, kernels)[0])).mean(-1)


def ssim(fused: Tensor, reference: Tensor, data_range: float, *, border: int = 0, clip: ClipSpec = None,
         protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """SSIM, mean over bands. Default: Wang et al.'s ``ssim.m`` shipped with the toolbox (11×11 Gaussian
    window σ = 1.5, K = (0.01, 0.03), 'valid' map, population moments), the standard definition.

    ``protocol="authors"`` is skimage's ``structural_similarity`` as ``SSIM_numpy`` calls it (7×7 uniform
    window, sample covariance), which gives different numbers.
    """
    if data_range <= 0:
        raise MetricInputError(f"ssim: data_range must be positive, found {data_range}")
    f, r = _prepare(fused, reference, border, clip, protocol)
    if protocol == "authors":
        try:
            return authors.ssim(f, r, data_range)
        except ValueError as exc:
            raise MetricInputError(str(exc)) from None
    win = 11
    check_block(f.shape[-2], f.shape[-1], win, "ssim")
    b, c = f.shape[:2]
    taps = gaussian_taps(win, 1.5)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2

    def per_map(x: Tensor, y: Tensor) -> Tensor:
        mean_x, mean_y, mean_sq, mean_xy = window_moments(x, y, taps)
        mean_prod = mean_x * mean_y
        mean_sq_sum = mean_x.mul_(mean_x).addcmul_(mean_y, mean_y)
        covariance_term = mean_xy.sub_(mean_prod).mul_(2).add_(c2)
        variance_term = mean_sq.sub_(mean_sq_sum).add_(c2)
        numerator = mean_prod.mul_(2).add_(c1).mul_(covariance_term)
        denominator = mean_sq_sum.add_(c1).mul_(variance_term)
        return numerator.div_(denominator).mean(dim=(-2, -1))

    h, w = f.shape[-2:]
    maps = (r.reshape(b * c, h, w), f.reshape(b * c, h, w))
    return ssim_means(*maps, taps, c1, c2, per_map, kernels).reshape(b, c).mean(-1)


def rmse(fused: Tensor, reference: Tensor, *, border: int = 0, clip: ClipSpec = None,
         protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Root mean squared error over all pixels and bands, in the input's units.

    ``protocol="authors"`` (``RMSE_numpy`` on the H×W×C array) returns sqrt(Σ_c MSE_c) = √C × this.
    """
    f, r = _prepare(fused, reference, border, clip, protocol)
    if protocol == "authors":
        return over_leading(authors.rmse, f, r)
    return torch.sqrt(_mse_and_mean(f, r, kernels)[0].mean(-1))


def cc(fused: Tensor, reference: Tensor, *, border: int = 0, clip: ClipSpec = None,
       protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Cross-correlation: Pearson correlation of every band over its pixels, mean over bands (``CC_numpy``;
    the same under both protocols)."""
    f, r = _prepare(fused, reference, border, clip, protocol)
    return band_pearson(band_statistics(f, r, kernels)).mean(-1)


def rase(fused: Tensor, reference: Tensor, *, border: int = 0, clip: ClipSpec = None,
         protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Relative average spectral error (Choi 2006): ``100 / mean(reference) · sqrt(mean_c MSE_c)`` in percent.

    The mean is over all pixels and bands of the reference. The authors' solver has no RASE (RAMSF's is
    hard-coded for 4/8 bands); ``protocol="authors"`` gives the same value.
    """
    f, r = _prepare(fused, reference, border, clip, protocol)

    mse, mean_r = _mse_and_mean(f, r, kernels)
    return 100.0 / mean_r.mean(-1) * torch.sqrt(mse.mean(-1))


# ----------------------------------------------------------------------------- full resolution


def _upsampled(fused: Tensor, ms: Tensor, lms: Tensor | None, what: str) -> Tensor:
    """The MS at the fused grid: ``lms`` if given, ``ms`` itself if already there, else ``interp23tap(ms)``."""
    b, c, h, w = fused.shape
    if lms is not None:
        up = as_image(lms, "lms")
        if up.shape != fused.shape:
            raise MetricInputError(f"{what}: lms must have the fused shape {shape_text(fused)}, found {shape_text(up)}")
        return up
    if ms.shape[1] != c or ms.shape[0] != b:
        raise MetricInputError(f"{what}: ms {shape_text(ms)} does not match fused {shape_text(fused)} in batch or bands")
    if ms.shape[-2:] == fused.shape[-2:]:
        return ms
    if h % ms.shape[-2] or w % ms.shape[-1] or h // ms.shape[-2] != w // ms.shape[-1]:
        raise MetricInputError(f"{what}: fused {h}×{w} is not an integer multiple of ms {shape_text(ms)}")
    try:
        return interp23tap(ms, h // ms.shape[-2])
    except ValueError as exc:
        raise MetricInputError(f"{what}: {exc}; pass lms= (the MS upsampled to the fused grid)") from None


def _fr_inputs(fused: Tensor, ms: Tensor, pan: Tensor | None, ratio: int | None, clip: ClipSpec, protocol: str,
               what: str) -> tuple[Tensor, Tensor, Tensor | None]:
    """Validated float64 (fused clipped, ms, pan). ``ms`` is the MS at fused size / ratio, or at the fused size."""
    check_protocol(protocol)
    f = apply_clip(as_image(fused, "fused"), clip)
    m = as_image(ms, "ms")
    if m.shape[0] != f.shape[0] or m.shape[1] != f.shape[1]:
        raise MetricInputError(f"{what}: ms {shape_text(m)} does not match fused {shape_text(f)} in batch or bands")
    h, w = f.shape[-2:]
    if ratio is not None:
        ratio = check_ratio(ratio, what)
        if m.shape[-2:] != f.shape[-2:] and (
            h % ratio or w % ratio or tuple(m.shape[-2:]) != (h // ratio, w // ratio)
        ):
            raise MetricInputError(
                f"{what}: ms must be the fused size {h}×{w} divided by ratio {ratio}, found {shape_text(m)}"
            )
    p = None
    if pan is not None:
        p = as_image(pan, "pan")
        if p.shape[0] != f.shape[0] or p.shape[1] != 1 or p.shape[-2:] != f.shape[-2:]:
            raise MetricInputError(f"{what}: pan must be {f.shape[0]}×1×{h}×{w} like fused, found {shape_text(p)}")
    return f, m, p


def d_lambda(fused: Tensor, ms: Tensor, block_size: int = 32, *, lms: Tensor | None = None, p: float = 1.0,
             clip: ClipSpec = None, protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Spectral distortion of QNR (``D_lambda.m``, toolbox-1.0 option): UIQI on distinct ``block_size`` blocks
    between every pair of bands of the fused image and of the MS upsampled to the fused grid,
    ``(mean_{i<j} |Q_f - Q_ms|^p)^(1/p)``.

    ``ms`` may be the low-resolution MS (upsampled here with :func:`interp23tap`, or pass ``lms=``) or
    already at the fused size. ``protocol="authors"`` (``D_lambda_numpy``) uses one global UIQI per pair.
    """
    f, m, _ = _fr_inputs(fused, ms, None, None, clip, protocol, "d_lambda")
    up = _upsampled(f, m, lms, "d_lambda")
    c = f.shape[1]
    if c < 2:
        raise MetricInputError("d_lambda: needs at least 2 bands")
    if protocol == "authors":
        return authors.d_lambda(f, up, p)
    check_multiple(f.shape[-2], f.shape[-1], block_size, "d_lambda")
    i, j = torch.triu_indices(c, c, offset=1, device=f.device)
    qf = q_blocks_pairwise(f, block_size)[:, i, j]
    qm = q_blocks_pairwise(up, block_size)[:, i, j]
    return ((qf - qm).abs() ** p).mean(-1) ** (1 / p)


def _pan_reduced_toolbox(pan: Tensor, ratio: int) -> Tensor:
    """``interp23tap(imresize(pan, 1/ratio), ratio)`` (D_s.m, toolbox-1.0 option)."""
    return interp23tap(imresize(pan, 1.0 / ratio), ratio)


def d_s(fused: Tensor, pan: Tensor, ms: Tensor, ratio: int = 4, block_size: int = 32, *, lms: Tensor | None = None,
        q: float = 1.0, clip: ClipSpec = None, protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Spatial distortion of QNR (``D_s.m``, toolbox-1.0 option): per band,
    ``|Q(fused_c, pan) - Q(lms_c, pan_lp)|`` with UIQI on distinct blocks and
    ``pan_lp = interp23tap(imresize(pan, 1/ratio), ratio)``; ``(mean_c |.|^q)^(1/q)``.

    ``protocol="authors"`` (``D_s_numpy``) uses global UIQI, the low-resolution MS, and a PAN reduced by
    OpenCV ``pyrDown`` (twice for ratio 4).
    """
    f, m, pn = _fr_inputs(fused, ms, pan, ratio, clip, protocol, "d_s")
    assert pn is not None
    if m.shape[-2:] == f.shape[-2:] and protocol == "authors":
        raise MetricInputError("d_s (authors): needs the low-resolution ms")
    if protocol == "authors":
        try:
            return authors.d_s(f, pn, m, ratio, q)
        except ValueError as exc:
            raise MetricInputError(str(exc)) from None
    check_multiple(f.shape[-2], f.shape[-1], block_size, "d_s")
    if ratio & (ratio - 1):
        raise MetricInputError(f"d_s: ratio must be a power of 2 (interp23tap), found {ratio}")
    up = _upsampled(f, m, lms, "d_s")
    pan_lp = _pan_reduced_toolbox(pn, ratio)
    q_high = q_blocks(f, pn, block_size)
    q_low = q_blocks(up, pan_lp, block_size)
    return ((q_high - q_low).abs() ** q).mean(-1) ** (1 / q)


def qnr(fused: Tensor, pan: Tensor, ms: Tensor, ratio: int = 4, block_size: int = 32, *, lms: Tensor | None = None,
        p: float = 1.0, q: float = 1.0, alpha: float = 1.0, beta: float = 1.0, clip: ClipSpec = None,
        protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """QNR (``QNR.m``) = ``(1 - D_λ)^alpha · (1 - D_s)^beta`` with :func:`d_lambda` and :func:`d_s`.

    ``protocol="authors"``: the solver's ``(1 - D_lambda_numpy(lms, f)) (1 - D_s_numpy(ms, pan, f))``.
    """
    f, m, pn = _fr_inputs(fused, ms, pan, ratio, clip, protocol, "qnr")
    assert pn is not None
    up = _upsampled(f, m, lms, "qnr")
    dl = d_lambda(f, m, block_size, lms=up, p=p, protocol=protocol)
    ds = d_s(f, pn, m, ratio, block_size, lms=up, q=q, protocol=protocol)
    return (1 - dl) ** alpha * (1 - ds) ** beta


def d_lambda_k(fused: Tensor, ms: Tensor, ratio: int = 4, sensor: GainSpec | None = "wv3", block_size: int = 32, *,
               lms: Tensor | None = None, clip: ClipSpec = None, quantise: bool = True,
               protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Khan's spectral distortion (``D_lambda_K.m``): ``1 - Q2n(lms, MTF(fused))`` with blocks = shift =
    ``block_size``; the fused image is low-passed with the sensor's MTF filters at the PAN scale (no
    decimation). ``sensor`` is a sensor name or the per-band Nyquist gains themselves (what the data
    records). DN scale (Q2n quantises). The authors' solver does not compute it; ``protocol="authors"``
    gives the toolbox value. ``quantise=False`` skips the ``uint16`` rounding (see :func:`q2n`).
    """
    f, m, _ = _fr_inputs(fused, ms, None, ratio, clip, protocol, "d_lambda_k")
    check_multiple(f.shape[-2], f.shape[-1], block_size, "d_lambda_k")
    if sensor is None or isinstance(sensor, str):
        try:
            canonical_sensor(sensor)
        except UnknownSensorError as exc:
            raise MetricInputError(f"d_lambda_k: {exc}") from None
    up = _upsampled(f, m, lms, "d_lambda_k")
    try:
        degraded = mtf_filter(f, sensor, ratio)
    except ValueError as exc:
        raise MetricInputError(f"d_lambda_k: {exc}") from None
    return 1 - q2n_value(up, degraded, int(block_size), int(block_size), quantise, kernels)


def hqnr(fused: Tensor, pan: Tensor, ms: Tensor, ratio: int = 4, sensor: GainSpec | None = "wv3", block_size: int = 32, *,
         lms: Tensor | None = None, alpha: float = 1.0, beta: float = 1.0, clip: ClipSpec = None,
         quantise: bool = True, protocol: str = "toolbox", kernels: Kernels = "numba") -> Tensor:
    """Hybrid QNR (``HQNR.m``, the 2021 benchmark default) = ``(1 - D_λ^K)^alpha · (1 - D_s)^beta``."""
    f, m, pn = _fr_inputs(fused, ms, pan, ratio, clip, protocol, "hqnr")
    assert pn is not None
    up = _upsampled(f, m, lms, "hqnr")
    dl = d_lambda_k(f, m, ratio, sensor, block_size, lms=up, quantise=quantise, kernels=kernels)
    ds = d_s(f, pn, m, ratio, block_size, lms=up)
    return (1 - dl) ** alpha * (1 - ds) ** beta
