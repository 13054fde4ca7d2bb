"""CPU kernels (numba) of the local-window attention: one pass per query row, softmax fused.

With a head width of 3 channels (RSANet, MMAPP) a window of 49 logits costs 147 multiply-adds per pixel:
the work is elementwise, and batched torch ops spend their time streaming the 49-plane logit and
probability maps through memory several times and launching one op per window offset. Here each query
row computes its 49 logit rows, their softmax and its output row while all of it sits in the L1 cache.
When a backward pass will follow, the normalised probabilities are written out once (the only 49-plane
map) so that backward does not recompute logits and exponentials.

Every inner loop runs along image columns (contiguous, vectorised); the 3-channel heads of RSANet and
MMAPP get loops that read all three channels in one pass. Each output value is written by one task in a
fixed order, so results do not depend on the thread count. float32 uses a polynomial ``exp`` that
vectorises (Cephes' ``expf``: range reduction by ln 2, degree-6 polynomial, the power of two built in
the exponent bits; within 2 ulp of the exact value); float64 calls ``math.exp``.

Arrays are C-contiguous: ``q`` n×d×h×w (already scaled), ``k_pad`` / ``v_pad`` n×d×(h+2p)×(w+2p) with
p = kernel // 2, ``probs`` n×h×kernel²×w. The kernels release the GIL; :func:`run_in_parts` runs them on
parts of the rows (forward) or of the images (backward, which scatters into the padded gradients).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from numba import njit

_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_EXP_FLOOR = np.float32(-87.0)  # exp(-87) ≈ 1.6e-38: still a normal float32


def _kernel(func: Callable[..., Any]) -> Any:
    """Compile ``func`` without the GIL, with FMA contraction (no reassociation: every sum keeps its order),
    cached on disk where numba finds a writable place, compiled in every process otherwise."""
    try:
        return njit(cache=True, nogil=True, fastmath={"contract"})(func)
    except RuntimeError:
        return njit(nogil=True, fastmath={"contract"})(func)


@njit(inline="always")
def _exp_shifted(row: np.ndarray, shift: np.ndarray, bits: np.ndarray, exact: bool) -> None:
    """``row = exp(row - shift)`` in place; ``row - shift`` ≤ 0 expected. ``bits``: int32 scratch of the row's length."""
    w = row.shape[0]
    if exact:
        for x in range(w):
            row[x] = math.exp(row[x] - shift[x])
        return
    for x in range(w):
        v = row[x] - shift[x]
        v = _EXP_FLOOR if v < _EXP_FLOOR else v  # NaN fails the test and propagates
        k = np.floor(v * _LOG2E + np.float32(0.5))
        r = v - k * _LN2_HI - k * _LN2_LO
        p = np.float32(1.9875691500e-4)
        p = p * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        row[x] = p * r * r + r + np.float32(1.0)
        bits[x] = (np.int32(k) + np.int32(127)) << np.int32(23)
    scale = bits.view(np.float32)  # 2**k
    for x in range(w):
        row[x] *= scale[x]


@njit(inline="always")
def _window_dots(a: np.ndarray, b_pad: np.ndarray, i: int, y: int, kernel: int, out: np.ndarray) -> None:
    """``out[t] = Σ_c a[i, c, y] · b_pad[i, c, y + dy, dx : dx + w]`` for every window offset t = (dy, dx):
    the logits (a = q, b = k) or the probabilities' gradient (a = output gradient, b = v)."""
    d, w = a.shape[1], a.shape[3]
    for t in range(kernel * kernel):
        dy = t // kernel
        dx = t - dy * kernel
        row = out[t]
        if d == 3:
            a0, a1, a2 = a[i, 0, y], a[i, 1, y], a[i, 2, y]
            b0 = b_pad[i, 0, y + dy, dx : dx + w]
            b1 = b_pad[i, 1, y + dy, dx : dx + w]
            b2 = b_pad[i, 2, y + dy, dx : dx + w]
            for x in range(w):
                row[x] = a0[x] * b0[x] + a1[x] * b1[x] + a2[x] * b2[x]
            continue
        ar = a[i, 0, y]
        br = b_pad[i, 0, y + dy, dx : dx + w]
        for x in range(w):
            row[x] = ar[x] * br[x]
        for c in range(1, d):
            ar = a[i, c, y]
            br = b_pad[i, c, y + dy, dx : dx + w]
            for x in range(w):
                row[x] += ar[x] * br[x]


@_kernel
def attention_forward(q: np.ndarray, k_pad: np.ndarray, v_pad: np.ndarray, kernel: int, exact: bool, keep: bool,
                      out: np.ndarray, probs: np.ndarray, r0: int, r1: int) -> None:
    """Rows ``r0 .. r1`` of the n·h query rows: ``out`` (softmax-weighted window sums of v) and, if ``keep``,
    the probabilities into ``probs`` (n×h×kernel²×w; not read otherwise)."""
    d, h, w = q.shape[1], q.shape[2], q.shape[3]
    taps = kernel * kernel
    scratch = np.empty((taps, w), q.dtype)
    peak = np.empty(w, q.dtype)
    inv = np.empty(w, q.dtype)
    bits = np.empty(w, np.int32)
    for r in range(r0, r1):
        i = r // h
        y = r - i * h
        p = probs[i, y] if keep else scratch
        _window_dots(q, k_pad, i, y, kernel, p)
        peak[:] = p[0]
        for t in range(1, taps):
            row = p[t]
            for x in range(w):
                peak[x] = row[x] if row[x] > peak[x] else peak[x]
        inv[:] = 0
        for t in range(taps):
            row = p[t]
            _exp_shifted(row, peak, bits, exact)
            for x in range(w):
                inv[x] += row[x]
        for x in range(w):
            inv[x] = 1 / inv[x]
        for c in range(d):
            out[i, c, y] = 0
        for t in range(taps):
            dy = t // kernel
            dx = t - dy * kernel
            row = p[t]
            for x in range(w):
                row[x] *= inv[x]
            for c in range(d):
                orow = out[i, c, y]
                vr = v_pad[i, c, y + dy, dx : dx + w]
                for x in range(w):
                    orow[x] += row[x] * vr[x]


@_kernel
def attention_backward(q: np.ndarray, k_pad: np.ndarray, v_pad: np.ndarray, probs: np.ndarray, grad_out: np.ndarray,
                       kernel: int, grad_q: np.ndarray, grad_k: np.ndarray, grad_v: np.ndarray, i0: int, i1: int) -> None:
    """Gradients for images ``i0 .. i1`` (all their rows: the padded key / value gradients are scattered into,
    so one task owns each image). With P the saved probabilities and dP = g·vᵀ per window offset:
    dS = P ⊙ (dP − Σ_t P dP), grad q = Σ_t dS k, grad k += dS q, grad v += P g."""
    d, h, w = q.shape[1], q.shape[2], q.shape[3]
    taps = kernel * kernel
    dprobs = np.empty((taps, w), q.dtype)
    dsum = np.empty(w, q.dtype)
    for i in range(i0, i1):
        grad_k[i] = 0
        grad_v[i] = 0
        for y in range(h):
            p = probs[i, y]
            _window_dots(grad_out, v_pad, i, y, kernel, dprobs)
            dsum[:] = 0
            for t in range(taps):
                prow = p[t]
                drow = dprobs[t]
                for x in range(w):
                    dsum[x] += prow[x] * drow[x]
            for c in range(d):
                grad_q[i, c, y] = 0
            for t in range(taps):
                dy = t // kernel
                dx = t - dy * kernel
                prow = p[t]
                drow = dprobs[t]
                for x in range(w):
                    drow[x] = prow[x] * (drow[x] - dsum[x])
                for c in range(d):  # one array written per loop: the vectoriser's overlap checks stay few
                    gq = grad_q[i, c, y]
                    kr = k_pad[i, c, y + dy, dx : dx + w]
                    for x in range(w):
                        gq[x] += drow[x] * kr[x]
                    gk = grad_k[i, c, y + dy, dx : dx + w]
                    qr = q[i, c, y]
                    for x in range(w):
                        gk[x] += drow[x] * qr[x]
                    gv = grad_v[i, c, y + dy, dx : dx + w]
                    gr = grad_out[i, c, y]
                    for x in range(w):
                        gv[x] += prow[x] * gr[x]


# ------------------------------------------------------------------------------------------ parallel parts

_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)  # (process id, workers) the pool was made for
_pool_lock = threading.Lock()


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_key
    key = (os.getpid(), workers)
    with _pool_lock:
        if _pool is None or _pool_key != key:
            if _pool is not None and _pool_key[0] == key[0]:
                _pool.shutdown(wait=False)
            # a forked child (e.g. a DataLoader worker) inherits the pool object but not its threads
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rsmif-window")
            _pool_key = key
        return _pool


# A part of a parallel kernel call covers at least this many query pixels (per head): about a millisecond of
# work, so that handing it to another thread (which, on a busy machine, may wait for a time slice) pays.
MIN_PART_PIXELS = 1 << 14


def run_in_parts(kernel: Callable[..., None], total: int, pixels_per_item: int, *args: Any) -> None:
    """``kernel(*args, start, stop)`` over ``range(total)`` cut into contiguous parts, at most as many as torch has
    intra-op threads and no smaller than :data:`MIN_PART_PIXELS` (the calling thread runs the first part). Each
    item is computed by one part, so the result is the same for any thread count."""
    workers = max(1, min(torch.get_num_threads(), total, total * pixels_per_item // MIN_PART_PIXELS))
    bounds = [total * j // workers for j in range(workers + 1)]
    futures = [_executor(workers - 1).submit(kernel, *args, bounds[j], bounds[j + 1]) for j in range(1, workers)]
    kernel(*args, bounds[0], bounds[1])
    for future in futures:
        future.result()
