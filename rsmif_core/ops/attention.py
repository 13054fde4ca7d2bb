"""Local-window self-attention (ACmix style) and per-pixel "dynamic" convolutions, computed lean.

These are the two expensive operations of RSANet (RSAM / SA) and MMAPP (ACmix, TSAM, SICM, AFM).
The authors' code builds every window with ``F.unfold`` (7×7 → 49 copies of each key, value and
positional map, plus the broadcast sums between them) and every dynamic 3×3 convolution from an
unfolded input *and* an attention map repeated over all input channels; autograd then keeps all of
these copies alive until the backward pass. Here:

* :func:`local_window_attention` visits the 49 window positions as shifted slices of the padded keys /
  values (a multiply-accumulate per offset, hand-written backward) or, on CUDA, as strided views
  (``Tensor.unfold``, no copy); either way only q, the padded k and v and the softmax probabilities
  are kept for backward.
  The relative positional term is folded into the keys once (``k − pe``) instead of unfolding the
  positional map, and the ``q·pe(p)`` term, identical for all 49 positions of a window, is left out:
  softmax is invariant to it, so the result is the same up to float rounding.
* :func:`dynamic_conv2d` never unfolds the input: with per-pixel taps it is one 1×1 GEMM plus k²
  shifted multiply-adds (in the order with the narrower intermediate), run over the batch in
  cache-sized chunks, saving only x, the taps and the kernel for backward (the authors keep the
  unfolded input, the channel-repeated tap map and their product); tap weights shared by all pixels
  of a sample become an ordinary grouped convolution.

All functions are plain tensor functions (no parameters), work for any float dtype and device, and
are differentiable with respect to every tensor argument.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rsmif_core.ops.threads import single_thread

__all__ = [
    "dynamic_conv2d",
    "dynamic_conv3x3_per_pixel",
    "dynamic_conv3x3_per_sample",
    "local_window_attention",
    "position_grid",
]


def position_grid(height: int, width: int, *, device: torch.device | str | None = None,
                  dtype: torch.dtype | None = None) -> Tensor:
    """The ACmix position map: 1×2×H×W, channel 0 = column coordinate, channel 1 = row coordinate,
    each ``linspace(-1, 1)`` over its axis (what ``position(H, W)`` returns in the authors' code)."""
    loc_w = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype).expand(height, width)
    loc_h = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype).unsqueeze(1).expand(height, width)
    return torch.stack([loc_w, loc_h]).unsqueeze(0)


def _same_dtype(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Cast to one compute dtype: the autocast dtype when autocast is on for the tensors' device, else the
    promoted dtype. The custom functions below then run with autocast off, so their hand-written
    backward sees one dtype (the casts themselves are differentiable)."""
    device_type = tensors[0].device.type
    dtype: torch.dtype | None = None
    try:
        if torch.is_autocast_enabled(device_type):
            dtype = torch.get_autocast_dtype(device_type)
    except TypeError:  # torch < 2.4: no device_type argument
        pass
    if dtype is None:
        dtype = tensors[0].dtype
        for t in tensors[1:]:
            dtype = torch.promote_types(dtype, t.dtype)
    return tuple(t if t.dtype == dtype else t.to(dtype) for t in tensors)


def _check_4d(name: str, t: Tensor) -> None:
    if t.ndim != 4:
        raise ValueError(f"{name}: expected a B×C×H×W tensor, found shape {tuple(t.shape)}")


def local_window_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    heads: int,
    kernel: int = 7,
    position: Tensor | None = None,
    scale: float | None = None,
    impl: str = "auto",
) -> Tensor:
    """Softmax self-attention of every pixel over its ``kernel``×``kernel`` neighbourhood, per head.

    Inputs: ``q``, ``k``, ``v`` B×C×H×W (the outputs of the 1×1 q/k/v convolutions), C = heads·d.
    ``position``: the positional embedding 1×d×H×W (or B·heads×d×H×W), i.e. ``conv_p(position_grid(H, W))``,
    shared by all heads; None for no positional term. ``scale`` defaults to d**-0.5.
    Borders are reflection padded by ``kernel // 2`` (so H and W must exceed ``kernel // 2``).

    Output B×C×H×W: for head h, pixel p and window offsets δ (row-major, 0..kernel²-1)::

        a_δ(p) = softmax_δ( scale · Σ_c q_c(p) · (k_c(p+δ) + pe_c(p) − pe_c(p+δ)) )
        out_c(p) = Σ_δ a_δ(p) · v_c(p+δ)

    exactly ACmix's attention path (without its ``rate1`` factor). Differences from the authors' code:
    the windows are strided views, not unfolded copies, and ``scale·q·pe(p)`` (constant over δ) is
    dropped because softmax ignores it; results agree to float rounding (≈1e-6 relative).

    ``impl``: "shifts" (one multiply-accumulate per window offset on shifted slices, hand-written
    backward; the default on CPU), "views" (the windows as strided views, a few large kernels; the
    default on CUDA) or "auto". Both keep only q, the padded k, v and the B·heads×K²×H×W probabilities
    for backward, against the authors' unfolded copies of k, v, pe and their broadcast sums.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        _check_4d(name, t)
    if k.shape != q.shape or v.shape != q.shape:
        raise ValueError(f"local_window_attention: q, k, v must share one shape, found "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    b, c, h, w = q.shape
    if heads < 1 or c % heads:
        raise ValueError(f"local_window_attention: {c} channels cannot be split into {heads} heads")
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"local_window_attention: kernel must be odd and positive, found {kernel}")
    pad = kernel // 2
    if h <= pad or w <= pad:
        raise ValueError(f"local_window_attention: a {kernel}×{kernel} reflection-padded window needs "
                         f"height and width of at least {pad + 1}, found {h}×{w}")
    d = c // heads
    n = b * heads
    qh = q.reshape(n, d, h, w) * (d**-0.5 if scale is None else scale)
    kh = k.reshape(n, d, h, w)
    if position is not None:
        if position.ndim != 4 or position.shape[1:] != (d, h, w) or position.shape[0] not in (1, n):
            raise ValueError(f"local_window_attention: position must be 1×{d}×{h}×{w}, found {tuple(position.shape)}")
        kh = kh - position
    padding = (pad, pad, pad, pad)
    k_pad = F.pad(kh, padding, mode="reflect")
    v_pad = F.pad(v.reshape(n, d, h, w), padding, mode="reflect")
    if impl == "auto":
        impl = "views" if q.is_cuda else "shifts"
    if impl == "shifts":
        qh, k_pad, v_pad = _same_dtype(qh, k_pad, v_pad)
        with torch.autocast(q.device.type, enabled=False):
            out = _ShiftedWindowAttention.apply(qh, k_pad, v_pad, kernel)
    elif impl == "views":
        out = _window_attention_views(qh, k_pad, v_pad, kernel)
    else:
        raise ValueError(f"local_window_attention: impl must be 'auto', 'shifts' or 'views', found {impl!r}")
    return out.reshape(b, c, h, w)


def _window_attention_views(q: Tensor, k_pad: Tensor, v_pad: Tensor, kernel: int) -> Tensor:
    """Windows as strided views (no copy); a few large kernels (good where launches are costly, e.g. CUDA).
    The broadcast products are transient; autograd keeps q, the padded k, v and the probabilities."""
    n, d, h, w = q.shape
    k_win = k_pad.unfold(2, kernel, 1).unfold(3, kernel, 1).permute(0, 1, 4, 5, 2, 3)  # n,d,K,K,h,w (view)
    v_win = v_pad.unfold(2, kernel, 1).unfold(3, kernel, 1).permute(0, 1, 4, 5, 2, 3)
    logits = (q[:, :, None, None] * k_win).sum(1).reshape(n, kernel * kernel, h, w)
    probs = logits.softmax(1).view(n, 1, kernel, kernel, h, w)
    return (probs * v_win).sum((2, 3))


# The per-offset loops below are many small, memory-bound ops. With several OpenMP threads every one of them
# ends in a barrier: on an idle machine that is cheap and both cores work; on an oversubscribed one each barrier
# waits for a descheduled thread, costing far more than the op (a training step 20× slower with 2 threads than
# with 1 on the shared 2-core machine under load). Measured with MMAPP, 2 threads, interleaved with the authors'
# code (bench/bench_mmapp.py): load 1.4–1.5, training step 4.0× the authors' speed with the caller's threads
# ("all") against 2.7× with one thread ("single"); load 2.4–3.8, 2.5× ("all") against 3.2× ("single").
# ``RSMIF_SMALL_OP_THREADS``: "all" (default: the caller's torch setting, like any other op, so results never
# depend on anything but that setting), "single" (one intra-op thread, for oversubscribed machines) or "auto"
# (one thread only while the load average exceeds 1.5× the core count; the thread count, and so the rounding of
# parallel reductions, may then change between runs).
SMALL_OP_THREADS_ENV = "RSMIF_SMALL_OP_THREADS"


def _small_op_threads(device: torch.device) -> AbstractContextManager[None]:
    """The intra-op thread setting for a loop of small CPU ops (see the note above)."""
    policy = os.environ.get(SMALL_OP_THREADS_ENV, "all")
    if policy not in ("auto", "single", "all"):
        raise ValueError(f"{SMALL_OP_THREADS_ENV} must be 'auto', 'single' or 'all', found {policy!r}")
    if device.type != "cpu" or policy == "all":
        return nullcontext()
    if policy == "single" or _oversubscribed():
        return single_thread()
    return nullcontext()


def _oversubscribed() -> bool:
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform: keep the conservative setting
        return True
    return load > 1.5 * (os.cpu_count() or 1)


def _window_dot(a: Tensor, x_pad: Tensor, kernel: int, out: Tensor) -> None:
    """``out[δ] = Σ_c a_c · x_pad_c(· + δ)`` for every window offset δ at once (K²×n×h×w ``out``): one
    multiply(-add) per channel over a K×K×n×h×w strided view of channel c's windows (no copy).

    Few large ops instead of one small op per offset and channel (measured on one CPU thread, d = 3,
    n = 24: 32×32 maps 2.8 → 1.3 ms for the 49 offsets, 64×64 16 → 8.5 ms)."""
    n, d, h, w = a.shape
    s_n, s_c, s_y, s_x = x_pad.stride()
    grid = out.view(kernel, kernel, n, h, w)
    for c in range(d):
        windows = x_pad.as_strided((kernel, kernel, n, h, w), (s_y, s_x, s_n, s_y, s_x),
                                   x_pad.storage_offset() + c * s_c)
        if c == 0:
            torch.mul(a[:, 0], windows, out=grid)
        else:
            grid.addcmul_(a[:, c], windows)


class _ShiftedWindowAttention(torch.autograd.Function):
    """One multiply-accumulate per window offset on shifted slices of the padded k / v (no unfolded copy,
    no 49× temporaries); saves q, padded k, v and the probabilities; hand-written backward.
    Fastest on CPU, where each offset's slice stays in cache."""

    @staticmethod
    def forward(ctx: FunctionCtx, q: Tensor, k_pad: Tensor, v_pad: Tensor, kernel: int) -> Tensor:
        n, d, h, w = q.shape
        with _small_op_threads(q.device):
            logits = q.new_empty(kernel * kernel, n, h, w)
            _window_dot(q, k_pad, kernel, logits)
            probs = torch.softmax(logits, 0)
            del logits
            out = torch.zeros_like(q)
            for t in range(kernel * kernel):
                dy, dx = divmod(t, kernel)
                out.addcmul_(probs[t].unsqueeze(1), v_pad[:, :, dy:dy + h, dx:dx + w])
        ctx.save_for_backward(q, k_pad, v_pad, probs)
        ctx.kernel = kernel  # type: ignore[attr-defined]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_out: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        q, k_pad, v_pad, probs = ctx.saved_tensors  # type: ignore[attr-defined]
        kernel: int = ctx.kernel  # type: ignore[attr-defined]
        need_q, need_k, need_v = ctx.needs_input_grad[:3]  # type: ignore[attr-defined]
        n, d, h, w = q.shape
        with _small_op_threads(q.device):
            grad_out = grad_out.contiguous()
            grad_probs = torch.empty_like(probs)
            _window_dot(grad_out, v_pad, kernel, grad_probs)
            grad_v = torch.zeros_like(v_pad) if need_v else None
            if grad_v is not None:
                for t in range(kernel * kernel):
                    dy, dx = divmod(t, kernel)
                    grad_v[:, :, dy:dy + h, dx:dx + w].addcmul_(probs[t].unsqueeze(1), grad_out)
            grad_logits = torch._softmax_backward_data(grad_probs, probs, 0, probs.dtype)
            del grad_probs
            grad_q = torch.zeros_like(q) if need_q else None
            grad_k = torch.zeros_like(k_pad) if need_k else None
            for t in range(kernel * kernel):
                dy, dx = divmod(t, kernel)
                g_t = grad_logits[t].unsqueeze(1)
                if grad_q is not None:
                    grad_q.addcmul_(g_t, k_pad[:, :, dy:dy + h, dx:dx + w])
                if grad_k is not None:
                    grad_k[:, :, dy:dy + h, dx:dx + w].addcmul_(g_t, q)
            return grad_q, grad_k, grad_v, None


# Per-pixel dynamic convolutions run in batch chunks of about this many bytes of their widest intermediate
# (k²·min(N, M) channels): each chunk's intermediates stay in cache and are reused by the allocator instead of
# being freshly mapped (page faults) — measured on one CPU thread, MMAPP's shapes: 1 MiB chunks 2.5× faster
# than unchunked fwd+bwd over the whole batch, 16 MiB chunks 2.2×.
_CPU_CHUNK_BYTES = 1 << 20


def _tap_windows(kh: int, kw: int, padding: int, size_in: tuple[int, int],
                 size_out: tuple[int, int]) -> list[tuple[slice, slice, slice, slice]]:
    """For each tap (row-major), the output rows/cols it reaches inside the input and the input rows/cols
    it reads there: (out_rows, out_cols, in_rows, in_cols). Zero padding = the parts left out."""
    def span(k: int, n_in: int, n_out: int) -> tuple[slice, slice]:
        lo, hi = max(0, padding - k), min(n_out, n_in + padding - k)
        return slice(lo, hi), slice(lo + k - padding, hi + k - padding)

    windows = []
    for ky in range(kh):
        oy, iy = span(ky, size_in[0], size_out[0])
        for kx in range(kw):
            ox, ix = span(kx, size_in[1], size_out[1])
            windows.append((oy, ox, iy, ix))
    return windows


class _DynamicConv(torch.autograd.Function):
    """y = Σ_j taps_j ⊙ (W_j ∗ x shifted by tap j), never forming the k²·N×H×W unfolded input of the whole batch.

    Two equivalent orders, whichever has the narrower intermediate (k²·min(M, N) channels):
    M ≤ N: z = [W_0; …; W_{k²−1}] · x (one 1×1 GEMM), then y += taps_j ⊙ shift_j(z_j), k² multiply-adds;
    M > N: u_j = taps_j ⊙ shift_j(x) (k² multiplies), then y = [W_0 … W_{k²−1}] · u (one GEMM).
    The batch is processed in chunks (see ``_CPU_CHUNK_BYTES``); only x, taps and W are saved, and each
    chunk's intermediate is rebuilt in backward (one GEMM or k² multiplies).
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, taps: Tensor, weight: Tensor, padding: int) -> Tensor:
        b, n, h, w = x.shape
        m, _, kh, kw = weight.shape
        kk = kh * kw
        ho, wo = taps.shape[-2:]
        gemm_first = m <= n
        wide = kk * min(m, n) * max(h * w, ho * wo) * x.element_size()
        chunk = b if x.device.type != "cpu" else max(1, min(b, _CPU_CHUNK_BYTES // max(1, wide)))
        windows = _tap_windows(kh, kw, padding, (h, w), (ho, wo))
        wmat = _tap_major_weight(weight, gemm_first)
        y = x.new_zeros(b, m, ho, wo)
        with _chunk_threads(x, chunk * wide):
            for s in range(0, b, chunk):
                xc, tc, yc = x[s:s + chunk], taps[s:s + chunk], y[s:s + chunk]
                bc = xc.shape[0]
                if gemm_first:
                    z = torch.matmul(wmat, xc.reshape(bc, n, h * w)).view(bc, kk, m, h, w)
                    for j, (oy, ox, iy, ix) in enumerate(windows):
                        yc[:, :, oy, ox].addcmul_(z[:, j, :, iy, ix], tc[:, j:j + 1, oy, ox])
                else:
                    u = _shifted_products(xc, tc, windows, (ho, wo))
                    torch.matmul(wmat, u.view(bc, kk * n, ho * wo), out=yc.view(bc, m, ho * wo))
        ctx.save_for_backward(x, taps, weight)
        ctx.plan = (chunk, wide, gemm_first, windows)  # type: ignore[attr-defined]
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_y: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, taps, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        chunk, wide, gemm_first, windows = ctx.plan  # type: ignore[attr-defined]
        need_x, need_taps, need_w = ctx.needs_input_grad[:3]  # type: ignore[attr-defined]
        b, n, h, w = x.shape
        m, _, kh, kw = weight.shape
        kk = kh * kw
        ho, wo = grad_y.shape[-2:]
        grad_y = grad_y.contiguous()
        wmat = _tap_major_weight(weight, gemm_first)
        grad_x = torch.zeros_like(x) if need_x else None
        grad_taps = torch.zeros_like(taps) if need_taps else None
        grad_wmat = torch.zeros_like(wmat) if need_w else None
        with _chunk_threads(x, chunk * wide):
            for s in range(0, b, chunk):
                xc, tc, gc = x[s:s + chunk], taps[s:s + chunk], grad_y[s:s + chunk]
                bc = xc.shape[0]
                x_flat = xc.reshape(bc, n, h * w)
                if gemm_first:
                    z = torch.matmul(wmat, x_flat).view(bc, kk, m, h, w) if grad_taps is not None else None
                    grad_z = x.new_zeros(bc, kk, m, h, w)
                    for j, (oy, ox, iy, ix) in enumerate(windows):
                        g = gc[:, :, oy, ox]
                        if z is not None and grad_taps is not None:
                            torch.sum(g * z[:, j, :, iy, ix], 1, out=grad_taps[s:s + bc, j, oy, ox])
                        torch.mul(g, tc[:, j:j + 1, oy, ox], out=grad_z[:, j, :, iy, ix])
                    grad_z_flat = grad_z.view(bc, kk * m, h * w)
                    if grad_x is not None:
                        torch.matmul(wmat.t(), grad_z_flat, out=grad_x[s:s + bc].view(bc, n, h * w))
                    if grad_wmat is not None:
                        grad_wmat.add_(torch.matmul(grad_z_flat, x_flat.transpose(1, 2)).sum(0))
                else:
                    g_flat = gc.reshape(bc, m, ho * wo)
                    grad_u = torch.matmul(wmat.t(), g_flat).view(bc, kk, n, ho, wo)
                    if grad_wmat is not None:
                        u = _shifted_products(xc, tc, windows, (ho, wo))
                        grad_wmat.add_(torch.matmul(g_flat, u.view(bc, kk * n, ho * wo).transpose(1, 2)).sum(0))
                    for j, (oy, ox, iy, ix) in enumerate(windows):
                        g = grad_u[:, j, :, oy, ox]
                        if grad_taps is not None:
                            torch.sum(g * xc[:, :, iy, ix], 1, out=grad_taps[s:s + bc, j, oy, ox])
                        if grad_x is not None:
                            grad_x[s:s + bc, :, iy, ix].addcmul_(g, tc[:, j:j + 1, oy, ox])
        grad_w = None
        if grad_wmat is not None:
            if gemm_first:
                grad_w = grad_wmat.view(kh, kw, m, n).permute(2, 3, 0, 1)
            else:
                grad_w = grad_wmat.view(m, kh, kw, n).permute(0, 3, 1, 2)
        return grad_x, grad_taps, grad_w, None


def _chunk_threads(x: Tensor, chunk_bytes: int) -> AbstractContextManager[None]:
    """Cache-sized chunks follow the small-op thread setting (see the note above ``_small_op_threads``); a
    chunk that cannot be made small (one large image, e.g. inference) keeps every thread for its big GEMM."""
    return _small_op_threads(x.device) if chunk_bytes <= 4 * _CPU_CHUNK_BYTES else nullcontext()


def _tap_major_weight(weight: Tensor, gemm_first: bool) -> Tensor:
    """M×N×kh×kw as (k²·M)×N (rows tap-major: z = W·x holds every tap's M outputs) or M×(k²·N) (columns tap-major)."""
    m, n, kh, kw = weight.shape
    if gemm_first:
        return weight.permute(2, 3, 0, 1).reshape(kh * kw * m, n)
    return weight.permute(0, 2, 3, 1).reshape(m, kh * kw * n)


def _shifted_products(x: Tensor, taps: Tensor, windows: list[tuple[slice, slice, slice, slice]],
                      size_out: tuple[int, int]) -> Tensor:
    """u[:, j] = taps_j ⊙ (x shifted by tap j), zero where the tap falls in the padding: B×k²×N×H'×W'."""
    u = x.new_zeros(x.shape[0], len(windows), x.shape[1], *size_out)
    for j, (oy, ox, iy, ix) in enumerate(windows):
        torch.mul(x[:, :, iy, ix], taps[:, j:j + 1, oy, ox], out=u[:, j, :, oy, ox])
    return u


def dynamic_conv2d(x: Tensor, taps: Tensor, weight: Tensor, padding: int | None = None) -> Tensor:
    """A k×k convolution (stride 1, zero padding) whose k² taps are re-weighted by ``taps``.

    ``x`` B×N×H×W; ``weight`` M×N×k×k; ``taps`` either B×k²×H'×W' (one weight per tap and output pixel,
    shared by all input channels: RSAM, TSAM, AFM) or B×k²×1×1 / B×k² (one per tap and sample: SICM),
    taps ordered row-major over the kernel window. H' = H + 2·padding − k + 1 (padding defaults to k // 2).
    Output B×M×H'×W'::

        y_m(p) = Σ_{n, j} weight[m, n, j] · taps_j(p) · x_n(p + δ_j)

    which is ``matmul(unfold(x, k, padding) ⊙ taps (repeated over n), weightᵀ)`` in the authors' code.
    Per-pixel taps: one GEMM and k² shifted multiply-adds per batch chunk (see ``_DynamicConv``), with only
    x, taps and weight kept for backward.
    Per-sample taps: a grouped convolution with the kernel ``weight ⊙ taps_b`` for sample b.
    """
    _check_4d("x", x)
    if weight.ndim != 4 or weight.shape[1] != x.shape[1] or weight.shape[2] != weight.shape[3]:
        raise ValueError(f"dynamic_conv2d: weight must be M×{x.shape[1]}×k×k for an input of shape "
                         f"{tuple(x.shape)}, found {tuple(weight.shape)}")
    b, n, h, w = x.shape
    m, _, k, _ = weight.shape
    if padding is None:
        padding = k // 2
    ho, wo = h + 2 * padding - k + 1, w + 2 * padding - k + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"dynamic_conv2d: a {k}×{k} kernel with padding {padding} does not fit a {h}×{w} input")
    if taps.ndim == 2:
        taps = taps[:, :, None, None]
    if taps.ndim != 4 or taps.shape[0] != b or taps.shape[1] != k * k:
        raise ValueError(f"dynamic_conv2d: taps must be {b}×{k * k}×H×W or {b}×{k * k}, found {tuple(taps.shape)}")
    if taps.shape[2:] == (1, 1):
        kernels = weight.unsqueeze(0) * taps.reshape(b, 1, 1, k, k)
        y = F.conv2d(x.reshape(1, b * n, h, w), kernels.reshape(b * m, n, k, k), padding=padding, groups=b)
        return y.view(b, m, ho, wo)
    if taps.shape[2:] != (ho, wo):
        raise ValueError(f"dynamic_conv2d: per-pixel taps must cover the {ho}×{wo} output, found {tuple(taps.shape)}")
    x, taps, weight = _same_dtype(x, taps, weight)
    with torch.autocast(x.device.type, enabled=False):
        y = _DynamicConv.apply(x, taps.contiguous(), weight, padding)
    return y.view(b, m, ho, wo)


def dynamic_conv3x3_per_pixel(x: Tensor, taps: Tensor, weight: Tensor) -> Tensor:
    """:func:`dynamic_conv2d` with a 3×3 kernel, padding 1 and taps B×9×H×W."""
    return dynamic_conv2d(x, taps, weight, padding=1)


def dynamic_conv3x3_per_sample(x: Tensor, taps: Tensor, weight: Tensor) -> Tensor:
    """:func:`dynamic_conv2d` with a 3×3 kernel, padding 1 and taps B×9 (one set per sample)."""
    return dynamic_conv2d(x, taps.reshape(taps.shape[0], -1), weight, padding=1)
