"""CPU kernels (numba) of the local-window attention: one pass per block of query rows, softmax fused.

With a head width of 3 channels (RSANet, MMAPP) a window of 49 logits costs 147 multiply-adds per pixel:
the work is elementwise, and batched torch ops spend their time streaming the 49-plane logit and
probability maps through memory several times and launching one op per window offset. Here a block of
query rows computes its 49 logit rows, their softmax and its output rows while all of it sits in the
cache; backward recomputes the probabilities from the saved log-sum-exp (FlashAttention's recipe)
instead of keeping 49 planes per layer.

Long vector loops: q is laid out with the row pitch of the padded keys (``w + 2p``: the zero columns
beyond ``w`` are computed and ignored), so key (y + dy, x + dx) of query (y, x) sits at a constant offset
``dy·pitch + dx`` from the query in memory, and every window offset of a whole block of rows is one
contiguous loop. The zero columns of the output gradient keep the ignored columns out of the gradients.

Each output value is written by one task in a fixed order, so results do not depend on the thread count.
The caller scales q by log2(e) as well, so the softmax is taken in base 2: float32 uses a polynomial
``2**x`` that vectorises (Cephes' ``exp2f``: the integer part in the exponent bits, a degree-6 polynomial
for the rest; within 2 ulp of the exact value, and 0 below 2**-64); float64 calls ``math.exp``.

Arrays are C-contiguous, p = kernel // 2: ``q`` n×d×h×(w+2p) (scaled by scale·log2(e), zero in the last 2p columns),
``k_pad`` / ``v_pad`` n×d×(h+2p)×(w+2p), ``out`` n×d×h×w, ``lse`` n×h×(w+2p) (base 2). The kernels release the GIL;
:func:`run_in_parts` runs them on parts of the row blocks (forward) or of the images (backward, which adds
into the padded key / value gradients).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from rsmif_core.ops.threads import run_parts

LOG2E = 1.4426950408889634  # the caller scales q by it: the kernels' logits are base-2, their softmax uses 2**x
_LN2 = 0.6931471805599453
# 2**x below 2**-64 is taken as 0: in a window whose largest term is 2**0 it cannot change the float32 sum
# (2**-24 already does not), and the subnormal numbers that its products with gradients and values would make
# run tens of times slower on x86 (with logits spread over hundreds, backward ran several times slower).
_EXP2_CUTOFF = np.float32(-64.0)
# 2**r = 1 + r·P(r) on [-1/2, 1/2] (Cephes' exp2f): within 2 ulp of the exact value
_P0, _P1, _P2 = np.float32(1.535336188319500e-4), np.float32(1.339887440266574e-3), np.float32(9.618437357674640e-3)
_P3, _P4, _P5 = np.float32(5.550332471162809e-2), np.float32(2.402264791363012e-1), np.float32(6.931472028550421e-1)
BLOCK_VALUES = 512  # query pixels (with the ignored columns) per block of rows: a few hundred per vector loop


def _kernel(func: Callable[..., Any]) -> Any:
    """Compile ``func`` without the GIL, with FMA contraction (no reassociation: every sum keeps its order),
    cached on disk where numba finds a writable place, compiled in every process otherwise."""
    try:
        return njit(cache=True, nogil=True, fastmath={"contract"})(func)
    except RuntimeError:
        return njit(nogil=True, fastmath={"contract"})(func)


def block_rows(pitch: int) -> int:
    """Rows per block for rows of ``pitch`` values."""
    return max(1, -(-BLOCK_VALUES // pitch))


@intrinsic
def _bits_as_float32(typingctx: Any, bits: Any) -> Any:
    """The float32 whose bit pattern is the int32 ``bits``: an LLVM bitcast, which vectorises in the caller's loop."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@njit(inline="always")
def _exp2f(v: Any) -> Any:
    """``2**v`` in float32 for v ≤ 0 (NaN propagates): the integer part goes to the exponent bits, a polynomial
    takes the rest."""
    drop = v < _EXP2_CUTOFF  # NaN fails the test and propagates
    v = _EXP2_CUTOFF if drop else v
    k = np.floor(v + np.float32(0.5))
    r = v - k  # exact: |r| ≤ 1/2
    p = _P0 * r + _P1
    p = p * r + _P2
    p = p * r + _P3
    p = p * r + _P4
    p = p * r + _P5
    p = p * r + np.float32(1.0)
    bits = np.int32(0) if drop else (np.int32(k) + np.int32(127)) << np.int32(23)  # 2**k, or 0
    return p * _bits_as_float32(bits)  # type: ignore[call-arg]  # numba supplies the typing context


@njit(inline="always")
def _exp2_shifted(row: np.ndarray, shift: np.ndarray, exact: bool) -> None:
    """``row = 2**(row - shift)`` in place (``row - shift`` ≤ 0 expected)."""
    if exact:
        for j in range(row.shape[0]):
            row[j] = math.exp((row[j] - shift[j]) * _LN2)
    else:
        for j in range(row.shape[0]):
            row[j] = _exp2f(row[j] - shift[j])


@njit(inline="always")
def _window_offset(t: int, kernel: int, pitch: int) -> int:
    """How far key (y + dy, x + dx) of window offset t = (dy, dx) (row-major) lies from query (y, x) in a plane of
    row pitch ``pitch``."""
    dy = t // kernel
    return dy * pitch + t - dy * kernel


@njit(inline="always")
def _window_dots(a: np.ndarray, b: np.ndarray, start: int, pitch: int, kernel: int, out: np.ndarray,
                 peak: np.ndarray, track: bool) -> None:
    """``out[t, j] = Σ_c a[c, start + j] · b[c, start + j + dy·pitch + dx]`` for every window offset t = (dy, dx):
    the logits (a = q, b = padded k) or the probabilities' gradient (a = output gradient, b = padded v).
    ``a`` and ``b`` are d×(rows·pitch) planes of one image. If ``track``, ``peak`` gets the maximum over t."""
    d = a.shape[0]
    n = out.shape[1]
    for t in range(kernel * kernel):
        shift = start + _window_offset(t, kernel, pitch)
        row = out[t]
        if d == 3:
            a0, a1, a2 = a[0, start : start + n], a[1, start : start + n], a[2, start : start + n]
            b0, b1, b2 = b[0, shift : shift + n], b[1, shift : shift + n], b[2, shift : shift + n]
            if track and t == 0:
                for j in range(n):
                    v = a0[j] * b0[j] + a1[j] * b1[j] + a2[j] * b2[j]
                    row[j] = v
                    peak[j] = v
            elif track:
                for j in range(n):
                    v = a0[j] * b0[j] + a1[j] * b1[j] + a2[j] * b2[j]
                    row[j] = v
                    peak[j] = v if v > peak[j] else peak[j]
            else:
                for j in range(n):
                    row[j] = a0[j] * b0[j] + a1[j] * b1[j] + a2[j] * b2[j]
            continue
        ac = a[0, start : start + n]
        bc = b[0, shift : shift + n]
        for j in range(n):
            row[j] = ac[j] * bc[j]
        for c in range(1, d):
            ac = a[c, start : start + n]
            bc = b[c, shift : shift + n]
            for j in range(n):
                row[j] += ac[j] * bc[j]
        if track and t == 0:
            peak[:] = row
        elif track:
            for j in range(n):
                peak[j] = row[j] if row[j] > peak[j] else peak[j]


@_kernel
def attention_forward(q: np.ndarray, k_pad: np.ndarray, v_pad: np.ndarray, kernel: int, exact: bool,
                      out: np.ndarray, lse: np.ndarray, part_start: int, part_stop: int) -> None:
    """Row blocks ``part_start .. part_stop`` (image-major; :func:`block_rows` rows each): ``out`` (softmax-weighted
    window sums of v) and ``lse`` (log2 of the sum of 2**logit over each pixel's window)."""
    n_img, d, h, pitch = q.shape
    w = out.shape[3]
    taps = kernel * kernel
    rows = max(1, -(-BLOCK_VALUES // pitch))
    blocks = -(-h // rows)
    most = (rows - 1) * pitch + w
    probs = np.empty((taps, most), q.dtype)
    peak = np.empty(most, q.dtype)
    total = np.empty(most, q.dtype)
    acc = np.empty((d, most), q.dtype)
    for item in range(part_start, part_stop):
        i = item // blocks
        y0 = (item - i * blocks) * rows
        y1 = min(y0 + rows, h)
        start = y0 * pitch
        n = (y1 - 1 - y0) * pitch + w  # through the last row's last real column
        qi = q[i].reshape(d, h * pitch)
        ki = k_pad[i].reshape(d, k_pad.shape[2] * pitch)
        vi = v_pad[i].reshape(d, v_pad.shape[2] * pitch)
        p = probs[:, :n]
        top = peak[:n]
        _window_dots(qi, ki, start, pitch, kernel, p, top, True)
        s = total[:n]
        s[:] = 0
        acc[:, :n] = 0
        if d == 3 and not exact:  # RSANet, MMAPP: 2**x, its sum and the weighted values in one loop
            ac0, ac1, ac2 = acc[0, :n], acc[1, :n], acc[2, :n]
            for t in range(taps):
                shift = start + _window_offset(t, kernel, pitch)
                row = p[t]
                v0, v1, v2 = vi[0, shift : shift + n], vi[1, shift : shift + n], vi[2, shift : shift + n]
                for j in range(n):
                    e = _exp2f(row[j] - top[j])
                    s[j] += e
                    ac0[j] += e * v0[j]
                    ac1[j] += e * v1[j]
                    ac2[j] += e * v2[j]
        else:
            for t in range(taps):
                row = p[t]
                _exp2_shifted(row, top, exact)
                for j in range(n):
                    s[j] += row[j]
            for c in range(d):
                ac = acc[c, :n]
                for t in range(taps):
                    shift = start + _window_offset(t, kernel, pitch)
                    row = p[t]
                    vc = vi[c, shift : shift + n]
                    for j in range(n):
                        ac[j] += row[j] * vc[j]
        for c in range(d):
            ac = acc[c, :n]
            for y in range(y0, y1):
                orow = out[i, c, y]
                arow = ac[(y - y0) * pitch : (y - y0) * pitch + w]
                srow = s[(y - y0) * pitch : (y - y0) * pitch + w]
                for x in range(w):
                    orow[x] = arow[x] / srow[x]
        li = lse[i].reshape(h * pitch)[start : start + n]
        for j in range(n):
            li[j] = top[j] + math.log2(s[j])


@_kernel
def attention_backward(q: np.ndarray, k_pad: np.ndarray, v_pad: np.ndarray, lse: np.ndarray, grad_out: np.ndarray,
                       delta: np.ndarray, kernel: int, exact: bool, grad_q: np.ndarray, grad_k: np.ndarray,
                       grad_v: np.ndarray, part_start: int, part_stop: int) -> None:
    """Gradients of images ``part_start .. part_stop`` (``grad_out``, ``delta`` and ``grad_q`` with q's layout, zero in
    the ignored columns; ``grad_k`` and ``grad_v`` n×d×h×w, of the keys and values before reflection padding).
    With P = 2**(logits − lse) and dP = g·vᵀ per window offset: dS = ln 2 · P ⊙ (dP − Σ_t P dP), grad q = Σ_t dS k,
    grad k += dS q, grad v += P g, where ``delta`` = Σ_t P dP = g · out is computed by the caller from the output
    (FlashAttention's shortcut: one pass fewer over the window). All rows of an image run in one task: they add into
    the image's padded key and value gradients, which are then folded back through the reflection."""
    n_img, d, h, pitch = q.shape
    w = pitch - 2 * (kernel // 2)
    taps = kernel * kernel
    ln2 = np.full(1, _LN2, q.dtype)[0]
    rows = max(1, -(-BLOCK_VALUES // pitch))
    most = rows * pitch
    probs = np.empty((taps, most), q.dtype)
    dprobs = np.empty((taps, most), q.dtype)
    grad_k_pad = np.empty((d, k_pad.shape[2], pitch), q.dtype)
    grad_v_pad = np.empty((d, v_pad.shape[2], pitch), q.dtype)
    gki = grad_k_pad.reshape(d, k_pad.shape[2] * pitch)
    gvi = grad_v_pad.reshape(d, v_pad.shape[2] * pitch)
    for i in range(part_start, part_stop):
        qi = q[i].reshape(d, h * pitch)
        ki = k_pad[i].reshape(d, k_pad.shape[2] * pitch)
        vi = v_pad[i].reshape(d, v_pad.shape[2] * pitch)
        gi = grad_out[i].reshape(d, h * pitch)
        gqi = grad_q[i].reshape(d, h * pitch)
        li = lse[i].reshape(h * pitch)
        di = delta[i].reshape(h * pitch)
        gki[:] = 0
        gvi[:] = 0
        for y0 in range(0, h, rows):
            y1 = min(y0 + rows, h)
            start = y0 * pitch
            n = (y1 - 1 - y0) * pitch + w  # through the last row's last real column, as in forward
            p = probs[:, :n]
            dp = dprobs[:, :n]
            top = li[start : start + n]
            ds = di[start : start + n]
            if d == 3 and not exact:  # RSANet, MMAPP: P and dS of a window offset in one loop
                q0, q1, q2 = qi[0, start : start + n], qi[1, start : start + n], qi[2, start : start + n]
                g0, g1, g2 = gi[0, start : start + n], gi[1, start : start + n], gi[2, start : start + n]
                for t in range(taps):
                    shift = start + _window_offset(t, kernel, pitch)
                    k0, k1, k2 = ki[0, shift : shift + n], ki[1, shift : shift + n], ki[2, shift : shift + n]
                    v0, v1, v2 = vi[0, shift : shift + n], vi[1, shift : shift + n], vi[2, shift : shift + n]
                    prow = p[t]
                    drow = dp[t]
                    for j in range(n):  # the logits are base 2: d/d(log2-logit) = ln 2 · d/d(logit)
                        e = _exp2f(q0[j] * k0[j] + q1[j] * k1[j] + q2[j] * k2[j] - top[j])
                        prow[j] = e
                        drow[j] = e * (g0[j] * v0[j] + g1[j] * v1[j] + g2[j] * v2[j] - ds[j]) * ln2
            else:
                _window_dots(qi, ki, start, pitch, kernel, p, ds, False)  # track False: ds (the input delta) is not written
                for t in range(taps):
                    _exp2_shifted(p[t], top, exact)
                _window_dots(gi, vi, start, pitch, kernel, dp, ds, False)
                for t in range(taps):
                    prow = p[t]
                    drow = dp[t]
                    for j in range(n):
                        drow[j] = prow[j] * (drow[j] - ds[j]) * ln2
            for c in range(d):  # one array written per loop: the vectoriser's overlap checks stay few
                gq = gqi[c, start : start + n]
                gq[:] = 0
                qc = qi[c, start : start + n]
                gc = gi[c, start : start + n]
                for t in range(taps):
                    shift = start + _window_offset(t, kernel, pitch)
                    drow = dp[t]
                    kc = ki[c, shift : shift + n]
                    for j in range(n):
                        gq[j] += drow[j] * kc[j]
                    gk = gki[c, shift : shift + n]
                    for j in range(n):
                        gk[j] += drow[j] * qc[j]
                    gv = gvi[c, shift : shift + n]
                    prow = p[t]
                    for j in range(n):
                        gv[j] += prow[j] * gc[j]
        _reflect_fold(grad_k_pad, kernel // 2, grad_k[i])
        _reflect_fold(grad_v_pad, kernel // 2, grad_v[i])


@njit(inline="always")
def _reflect_fold(grad_pad: np.ndarray, pad: int, out: np.ndarray) -> None:
    """The gradient of reflection padding by ``pad``: every value of ``grad_pad`` (d×(h+2·pad)×(w+2·pad), any row
    pitch from w + 2·pad) added to the pixel of ``out`` (d×h×w) that it copies."""
    d, h, w = out.shape
    out[:] = 0
    for c in range(d):
        for yp in range(h + 2 * pad):
            y = yp - pad
            y = -y if y < 0 else (2 * (h - 1) - y if y >= h else y)
            src = grad_pad[c, yp]
            dst = out[c, y]
            inner = src[pad : pad + w]
            for x in range(w):
                dst[x] += inner[x]
            for xp in range(pad):
                dst[pad - xp] += src[xp]
                dst[w - 2 - xp] += src[pad + w + xp]


# ------------------------------------------------------------------------------ per-pixel dynamic convolution


@_kernel
def dynamic_conv_grad_taps(grad_cols: np.ndarray, x_pad: np.ndarray, s0: int, r0: int, grad_taps: np.ndarray,
                           part_start: int, part_stop: int) -> None:
    """``grad_taps[s0 + b, ky, kx, r0 + y] = Σ_n grad_cols[b, n, ky, kx, y] · x_pad[s0 + b, n, r0 + y + ky, kx : kx + W']``
    for the (sample, row) items ``part_start .. part_stop`` of a piece (samples from ``s0``, output rows from ``r0``):
    ``grad_cols`` samples×N×k×k×rows×W' is the gradient of the piece's unfolded input, ``grad_taps`` B×k×k×H'×W'."""
    n, k = grad_cols.shape[1], grad_cols.shape[2]
    rows, wo = grad_cols.shape[4], grad_cols.shape[5]
    for item in range(part_start, part_stop):
        b = item // rows
        y = item - b * rows
        for ky in range(k):
            for kx in range(k):
                gt = grad_taps[s0 + b, ky, kx, r0 + y]
                gt[:] = 0
                for c in range(n):
                    gc = grad_cols[b, c, ky, kx, y]
                    xr = x_pad[s0 + b, c, r0 + y + ky, kx : kx + wo]
                    for x in range(wo):
                        gt[x] += gc[x] * xr[x]


@_kernel
def dynamic_conv_grad_input(grad_cols: np.ndarray, taps: np.ndarray, s0: int, r0: int, grad_x_pad: np.ndarray,
                            part_start: int, part_stop: int) -> None:
    """``grad_x_pad[s0 + b, n, r0 + y + ky, kx : kx + W'] += grad_cols[b, n, ky, kx, y] · taps[s0 + b, ky, kx, r0 + y]``
    (col2im of taps ⊙ the unfolded input's gradient) for the (sample, channel) items ``part_start .. part_stop``."""
    n, k = grad_cols.shape[1], grad_cols.shape[2]
    rows, wo = grad_cols.shape[4], grad_cols.shape[5]
    for item in range(part_start, part_stop):
        b = item // n
        c = item - b * n
        for y in range(rows):
            for ky in range(k):
                for kx in range(k):
                    gc = grad_cols[b, c, ky, kx, y]
                    tr = taps[s0 + b, ky, kx, r0 + y]
                    gx = grad_x_pad[s0 + b, c, r0 + y + ky, kx : kx + wo]
                    for x in range(wo):
                        gx[x] += gc[x] * tr[x]


# ------------------------------------------------------------------------------------------ parallel parts

# A part of a parallel kernel call covers at least this many query pixels (per head): a tenth of a millisecond or
# more of work. PyTorch's OpenMP threads take a part within microseconds (they spin after each torch op), so
# parts this small pay: MMAPP's 16² and 32² attention layers run in two parts instead of one (bench/bench_attention.py).
MIN_PART_PIXELS = 1 << 11


def run_in_parts(kernel: Callable[..., None], total: int, pixels_per_item: int, *args: Any) -> None:
    """``kernel(*args, start, stop)`` over ``range(total)`` cut into contiguous parts, at most as many as torch has
    intra-op threads and no smaller than :data:`MIN_PART_PIXELS`, run by :func:`~rsmif_core.ops.threads.run_parts`.
    Each item is computed by one part, so the result is the same for any thread count."""
    workers = max(1, min(torch.get_num_threads(), total, total * pixels_per_item // MIN_PART_PIXELS))
    bounds = [total * j // workers for j in range(workers + 1)]
    run_parts(lambda j: kernel(*args, bounds[j], bounds[j + 1]), workers)
