"""Fused CPU kernels (numba) for the reduced-resolution indices: one pass over the pixels per index.

A batched torch op streams its whole operand through memory, so an index built from ten of them reads
and writes each image ten times; on CPU that, not arithmetic, is what the torch path spends its time on.
These kernels compute each index's statistics row by row with everything in cache: the Gaussian and box
windows as separable passes over a ring of rows, the box with running sums, Sobel from two padded rows
(timings: bench/bench_metrics.py and bench/RESULTS.md).

Every kernel works in float64 on C-contiguous ``(maps, H, W)`` arrays (``(images, C, H, W)`` for SAM),
releases the GIL (the callers run chunks on the thread pool of :mod:`rsmif_core.metrics.chunks`) and is
compiled on first use, then cached on disk by numba. Sums run into one accumulator per column (summed
once at the end), which keeps IEEE order and vectorises. The formulas turned from these statistics into
indices stay in :mod:`rsmif_core.metrics.functional`, shared with the torch path used on other devices,
except the per-window SSIM and UIQI values, which are averaged here (their maps are never stored);
those two mirror the torch path of ``functional.ssim`` / ``uiqi._quality`` and are tested against it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit


def _kernel(func: Callable[..., Any]) -> Any:
    """Compile ``func`` without the GIL, cached on disk where numba finds a writable place (beside this file,
    then the user's cache folder); with none (a read-only install and home), compiled in every process."""
    try:
        return njit(cache=True, nogil=True)(func)
    except RuntimeError:
        return njit(nogil=True)(func)

# -------------------------------------------------------------------------------- separable filters


@_kernel
def _gaussian11_row(src: np.ndarray, g: np.ndarray, dst: np.ndarray) -> None:
    """``dst[j] = Σ_t taps[t]·src[j + t]`` ('valid') for 11 symmetric taps, given as ``g`` = taps[0..5].

    Written out in one pass: each output is stored once, and the symmetric pairs share a multiply.
    """
    g0, g1, g2, g3, g4, g5 = g[0], g[1], g[2], g[3], g[4], g[5]
    for j in range(dst.shape[0]):
        dst[j] = (g5 * src[j + 5] + g0 * (src[j] + src[j + 10]) + g1 * (src[j + 1] + src[j + 9])
                  + g2 * (src[j + 2] + src[j + 8]) + g3 * (src[j + 3] + src[j + 7]) + g4 * (src[j + 4] + src[j + 6]))


@_kernel
def _gaussian11_column(ring: np.ndarray, top: int, g: np.ndarray, dst: np.ndarray) -> None:
    """The same window down a ring of 11 filtered rows: ``dst[j] = Σ_t taps[t]·ring[(top + t) % 11, j]``."""
    g0, g1, g2, g3, g4, g5 = g[0], g[1], g[2], g[3], g[4], g[5]
    r0, r1, r2, r3 = ring[top % 11], ring[(top + 1) % 11], ring[(top + 2) % 11], ring[(top + 3) % 11]
    r4, r5, r6, r7 = ring[(top + 4) % 11], ring[(top + 5) % 11], ring[(top + 6) % 11], ring[(top + 7) % 11]
    r8, r9, r10 = ring[(top + 8) % 11], ring[(top + 9) % 11], ring[(top + 10) % 11]
    for j in range(dst.shape[0]):
        dst[j] = (g5 * r5[j] + g0 * (r0[j] + r10[j]) + g1 * (r1[j] + r9[j]) + g2 * (r2[j] + r8[j])
                  + g3 * (r3[j] + r7[j]) + g4 * (r4[j] + r6[j]))


@_kernel
def ssim_means(x: np.ndarray, y: np.ndarray, half_taps: np.ndarray, c1: float, c2: float, out: np.ndarray) -> None:
    """``out[m]`` = mean of the 'valid' SSIM map of ``x[m]``, ``y[m]`` under an 11×11 separable symmetric
    window (``half_taps`` = its first six taps; ``ssim.m`` uses the Gaussian of σ = 1.5).

    Filters x, y, x² + y² and xy (the four moments the index needs), row by row into a ring of 11 rows
    per moment.
    """
    n, h, w = x.shape
    k = 11
    out_h, out_w = h - k + 1, w - k + 1
    ring = np.empty((4, k, out_w))
    sq_row = np.empty(w)
    xy_row = np.empty(w)
    means = np.empty((4, out_w))
    column_sums = np.empty(out_w)
    for m in range(n):
        column_sums[:] = 0.0
        for i in range(h):
            xr = x[m, i]
            yr = y[m, i]
            for j in range(w):
                sq_row[j] = xr[j] * xr[j] + yr[j] * yr[j]
                xy_row[j] = xr[j] * yr[j]
            slot = i % k
            _gaussian11_row(xr, half_taps, ring[0, slot])
            _gaussian11_row(yr, half_taps, ring[1, slot])
            _gaussian11_row(sq_row, half_taps, ring[2, slot])
            _gaussian11_row(xy_row, half_taps, ring[3, slot])
            if i < k - 1:
                continue
            for q in range(4):
                _gaussian11_column(ring[q], i - k + 1, half_taps, means[q])
            mean_x, mean_y, mean_sq, mean_xy = means[0], means[1], means[2], means[3]
            for j in range(out_w):
                mean_prod = mean_x[j] * mean_y[j]
                mean_sq_sum = mean_x[j] * mean_x[j] + mean_y[j] * mean_y[j]
                numerator = (2.0 * mean_prod + c1) * (2.0 * (mean_xy[j] - mean_prod) + c2)
                denominator = (mean_sq_sum + c1) * (mean_sq[j] - mean_sq_sum + c2)
                column_sums[j] += numerator / denominator
        out[m] = column_sums.sum() / (out_h * out_w)


@_kernel
def q_sliding_means(x: np.ndarray, y: np.ndarray, size: int, out: np.ndarray) -> None:
    """``out[m]`` = mean of ``img_qi``'s 'valid' map of ``x[m]``, ``y[m]`` over ``size``-pixel windows sliding by one.

    Window sums by running sums: each step adds the entering row (column) and drops the leaving one, in
    float64; tests/test_metrics_kernels.py holds it to the torch path's direct window sums.
    """
    n, h, w = x.shape
    out_h, out_w = h - size + 1, w - size + 1
    columns = np.empty((4, w))  # per image column: Σx, Σy, Σ(x² + y²), Σxy over the window's rows
    area = float(size * size)
    for m in range(n):
        columns[:] = 0.0
        for i in range(size):
            xr = x[m, i]
            yr = y[m, i]
            for j in range(w):
                columns[0, j] += xr[j]
                columns[1, j] += yr[j]
                columns[2, j] += xr[j] * xr[j] + yr[j] * yr[j]
                columns[3, j] += xr[j] * yr[j]
        total = 0.0
        for i in range(out_h):
            if i > 0:
                xa, ya = x[m, i + size - 1], y[m, i + size - 1]
                xd, yd = x[m, i - 1], y[m, i - 1]
                for j in range(w):
                    columns[0, j] += xa[j] - xd[j]
                    columns[1, j] += ya[j] - yd[j]
                    columns[2, j] += (xa[j] * xa[j] + ya[j] * ya[j]) - (xd[j] * xd[j] + yd[j] * yd[j])
                    columns[3, j] += xa[j] * ya[j] - xd[j] * yd[j]
            sx = columns[0, :size].sum()
            sy = columns[1, :size].sum()
            s_sq = columns[2, :size].sum()
            s_xy = columns[3, :size].sum()
            for j in range(out_w):
                if j > 0:
                    sx += columns[0, j + size - 1] - columns[0, j - 1]
                    sy += columns[1, j + size - 1] - columns[1, j - 1]
                    s_sq += columns[2, j + size - 1] - columns[2, j - 1]
                    s_xy += columns[3, j + size - 1] - columns[3, j - 1]
                mean_prod = sx * sy  # all N²-scaled, as in uiqi._q_sliding_maps
                mean_sq_sum = sx * sx + sy * sy
                denominator = (area * s_sq - mean_sq_sum) * mean_sq_sum
                if denominator != 0.0:
                    total += 4.0 * (area * s_xy - mean_prod) * mean_prod / denominator
                elif mean_sq_sum != 0.0:
                    total += 2.0 * mean_prod / mean_sq_sum
                else:
                    total += 1.0
        out[m] = total / (out_h * out_w)


# -------------------------------------------------------------------------------- one-pass statistics


@_kernel
def _sobel_row(up: np.ndarray, mid: np.ndarray, down: np.ndarray, vertical: np.ndarray, across: np.ndarray,
               gx: np.ndarray, gy: np.ndarray) -> None:
    """Sobel responses of one interior row (zero padding): ``gy`` = [1 2 1]ᵀ-difference, ``gx`` its transpose.

    ``vertical`` and ``across`` are scratch rows two longer than the row, zero at both ends.
    """
    n = mid.shape[0]
    for j in range(n):
        vertical[j + 1] = up[j] + 2.0 * mid[j] + down[j]
        across[j + 1] = up[j] - down[j]
    for j in range(n):
        gx[j] = vertical[j] - vertical[j + 2]
        gy[j] = across[j] + 2.0 * across[j + 1] + across[j + 2]


@_kernel
def sobel_sums(f: np.ndarray, r: np.ndarray, out: np.ndarray) -> None:
    """Per map: ``out[m] = (Σ|∇f|·|∇r|, Σ|∇f|², Σ|∇r|²)`` with ``∇`` the Sobel pair on the map's interior
    (``imfilter(I(2:end-1, 2:end-1), fspecial('sobel'))``, zero padding) — the sums of ``SCC.m``."""
    n, h, w = f.shape
    ih, iw = h - 2, w - 2
    zero = np.zeros(iw)
    scratch = np.zeros((4, iw + 2))  # ends stay zero: the padding
    grads = np.empty((4, iw))
    sums = np.empty((3, iw))
    for m in range(n):
        sums[:] = 0.0
        for i in range(ih):
            for image, col in ((f, 0), (r, 2)):
                up = image[m, i, 1 : w - 1] if i > 0 else zero
                down = image[m, i + 2, 1 : w - 1] if i + 1 < ih else zero
                _sobel_row(up, image[m, i + 1, 1 : w - 1], down, scratch[col], scratch[col + 1],
                           grads[col], grads[col + 1])
            fx, fy, rx, ry = grads[0], grads[1], grads[2], grads[3]
            for j in range(iw):
                energy_f = fx[j] * fx[j] + fy[j] * fy[j]
                energy_r = rx[j] * rx[j] + ry[j] * ry[j]
                sums[0, j] += math.sqrt(energy_f * energy_r)
                sums[1, j] += energy_f
                sums[2, j] += energy_r
        for s in range(3):
            out[m, s] = sums[s].sum()


@_kernel
def band_statistics(f: np.ndarray, r: np.ndarray, out: np.ndarray) -> None:
    """Per map, two passes: ``out[m] = (Σ(r - f)², mean r, mean f, Σ(f - f̄)(r - r̄), Σ(f - f̄)², Σ(r - r̄)²)``."""
    n, h, w = f.shape
    acc = np.empty((5, w))
    count = float(h * w)
    for m in range(n):
        acc[:2] = 0.0
        for i in range(h):
            fr, rr = f[m, i], r[m, i]
            for j in range(w):
                acc[0, j] += fr[j]
                acc[1, j] += rr[j]
        mean_f = acc[0].sum() / count
        mean_r = acc[1].sum() / count
        acc[:] = 0.0
        for i in range(h):
            fr, rr = f[m, i], r[m, i]
            for j in range(w):
                diff = rr[j] - fr[j]
                df = fr[j] - mean_f
                dr = rr[j] - mean_r
                acc[0, j] += diff * diff
                acc[1, j] += df * dr
                acc[2, j] += df * df
                acc[3, j] += dr * dr
        out[m, 0] = acc[0].sum()
        out[m, 1] = mean_r
        out[m, 2] = mean_f
        out[m, 3] = acc[1].sum()
        out[m, 4] = acc[2].sum()
        out[m, 5] = acc[3].sum()


@_kernel
def angle_sums(f: np.ndarray, r: np.ndarray, out: np.ndarray) -> None:
    """Per image (``f``, ``r``: images × C × H × W): ``out[b] = (Σ angle, count)`` over pixels whose two
    spectral vectors are non-zero, the angle being ``acos`` of the cosine clamped to [-1, 1], in radians."""
    n, c, h, w = f.shape
    rows = np.empty((3, w))
    totals = np.empty((2, w))
    for b in range(n):
        totals[:] = 0.0
        for i in range(h):
            dot, ff, rr = rows[0], rows[1], rows[2]
            dot[:] = 0.0
            ff[:] = 0.0
            rr[:] = 0.0
            for band in range(c):
                fv, rv = f[b, band, i], r[b, band, i]
                for j in range(w):
                    dot[j] += fv[j] * rv[j]
                    ff[j] += fv[j] * fv[j]
                    rr[j] += rv[j] * rv[j]
            for j in range(w):
                den = math.sqrt(rr[j] * ff[j])
                if den > 0.0:
                    totals[0, j] += math.acos(min(1.0, max(-1.0, dot[j] / den)))
                    totals[1, j] += 1.0
        out[b, 0] = totals[0].sum()
        out[b, 1] = totals[1].sum()


# -------------------------------------------------------------------------------- Q2n blocks


@_kernel
def _sum(v: np.ndarray) -> float:
    """Σ v in eight interleaved partial sums: a serial sum waits on the adder's latency at every element."""
    partial = np.zeros(8)
    n = v.shape[0]
    body = n - n % 8
    for start in range(0, body, 8):
        for lane in range(8):
            partial[lane] += v[start + lane]
    total = partial.sum()
    for p in range(body, n):
        total += v[p]
    return total


@_kernel
def _quantise_uint16(v: np.ndarray) -> None:
    """MATLAB ``uint16(v)`` in place: round half away from zero (v >= 0 here), saturate; NaN stays NaN."""
    for p in range(v.shape[0]):
        g = math.floor(v[p] + 0.5)
        v[p] = 0.0 if g < 0.0 else (65535.0 if g > 65535.0 else g)


@_kernel
def q2n_block_moments(reference: np.ndarray, fused: np.ndarray, block: int, shift: int, steps_h: int,
                      steps_w: int, components: int, quantise: bool, out: np.ndarray) -> None:
    """Per image and block of ``q2n.m`` (images × C × H × W, already mirror-padded to whole blocks): the
    moments :func:`rsmif_core.metrics.q2n.q2n_from_moments` needs, in ``out[b, block]`` laid out as
    ``a (N), E[(g_i - a_i)(f_j - a_j)] (N×N), E[(g - a)²] (N), E[(f - a)²] (N), E[f - a] (N)`` with
    ``a`` the reference block means and N = ``components`` (bands beyond C are zero).

    Values are quantised like MATLAB ``uint16`` first when ``quantise``.
    """
    n, c, h, w = reference.shape
    npix = block * block
    nn = components
    ref_block = np.empty((c, npix))
    fus_block = np.empty((c, npix))
    out[:] = 0.0
    for b in range(n):
        for bi in range(steps_h):
            for bj in range(steps_w):
                top, left = bi * shift, bj * shift
                moments = out[b, bi * steps_w + bj]
                for band in range(c):
                    g, f = ref_block[band], fus_block[band]
                    ref_band, fus_band = reference[b, band], fused[b, band]
                    for r in range(block):
                        for col in range(block):
                            g[r * block + col] = ref_band[top + r, left + col]
                            f[r * block + col] = fus_band[top + r, left + col]
                    if quantise:
                        _quantise_uint16(g)
                        _quantise_uint16(f)
                    mean = _sum(g) / npix
                    moments[band] = mean
                    for p in range(npix):
                        g[p] -= mean
                        f[p] -= mean
                    moments[nn + nn * nn + band] = np.dot(g, g) / npix
                    moments[2 * nn + nn * nn + band] = np.dot(f, f) / npix
                    moments[3 * nn + nn * nn + band] = _sum(f) / npix
                cross = np.dot(ref_block, fus_block.T)
                for i in range(c):
                    for j in range(c):
                        moments[nn + i * nn + j] = cross[i, j] / npix
