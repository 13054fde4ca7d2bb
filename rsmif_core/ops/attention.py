"""Local-window self-attention (ACmix style) and per-pixel "dynamic" convolutions, computed lean.

These are the two expensive operations of RSANet (RSAM / SA) and MMAPP (ACmix, TSAM, SICM, AFM).
The authors' code builds every window with ``F.unfold`` (7×7 → 49 copies of each key, value and
positional map, plus the broadcast sums between them) and every dynamic 3×3 convolution from an
unfolded input *and* an attention map repeated over all input channels; autograd then keeps all of
these copies alive until the backward pass. Here:

* :func:`local_window_attention` runs, on CPU, the numba kernels of :mod:`rsmif_core.ops._window_kernels`:
  a block of query rows at a time, logits, softmax and the weighted sum of values stay in cache, and
  backward recomputes the probabilities from the saved log-sum-exp (a layer keeps q, the padded k and v,
  the output and one value per pixel and head). With heads of a few channels (3 in RSANet and MMAPP) this is
  elementwise work — a matrix-product formulation of the windows (tiles of queries against their halo of
  keys, as GPU neighbourhood-attention kernels do) would multiply it by the halo's size for products of
  inner dimension 3. Elsewhere (CUDA) the windows are strided views (``Tensor.unfold``, no copy).
  The relative positional term is folded into the keys once (``k − pe``) instead of unfolding the
  positional map, and the ``q·pe(p)`` term, identical for all 49 positions of a window, is left out:
  softmax is invariant to it, so the result is the same up to float rounding.
* :func:`dynamic_conv2d` with per-pixel taps is, per cache-sized piece of the batch, one broadcast product
  (taps ⊙ the windows of x, a strided view) and one matrix product, saving only x, the taps and the
  kernel for backward (the authors keep the unfolded input, the channel-repeated tap map and their
  product); tap weights shared by all pixels of a sample become an ordinary grouped convolution.

All functions are plain tensor functions (no parameters), work for any float dtype and device, and
are differentiable with respect to every tensor argument. Results do not depend on the thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

__all__ = [
    "dynamic_conv2d",
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


def _compute_dtype(*tensors: Tensor) -> torch.dtype:
    """The dtype an op on ``tensors`` computes in: the autocast dtype when autocast is on for their device,
    else the promoted dtype."""
    device_type = tensors[0].device.type
    try:
        if torch.is_autocast_enabled(device_type):
            return torch.get_autocast_dtype(device_type)
    except TypeError:  # torch < 2.4: no device_type argument
        pass
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _check_4d(name: str, t: Tensor) -> None:
    if t.ndim != 4:
        raise ValueError(f"{name}: expected a B×C×H×W tensor, found shape {tuple(t.shape)}")


IMPLS = ("auto", "fused", "views")


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
    no unfolded copies of k, v and pe, and ``scale·q·pe(p)`` (constant over δ) is dropped because softmax
    ignores it; results agree to float rounding (≈1e-6 relative).

    ``impl``:

    * "fused" (CPU): :mod:`rsmif_core.ops._window_kernels`, one pass per block of query rows with the softmax
      fused, in float32 (float64 for float64 inputs; half-precision inputs and autocast compute in float32 and
      return the autocast / input dtype); backward recomputes the probabilities from the saved log-sum-exp,
      so only q, the padded k, v, the output and one value per pixel and head are kept;
    * "views" (any device): the windows as strided views of the padded k and v (no copy), a few large
      broadcast products; autograd keeps the B·heads×K²×H×W probabilities;
    * "auto": "fused" on CPU, "views" elsewhere.
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
    if impl not in IMPLS:
        raise ValueError(f"local_window_attention: impl must be one of {', '.join(IMPLS)}, found {impl!r}")
    if impl == "fused" and q.device.type != "cpu":
        raise ValueError(f"local_window_attention: impl 'fused' is a CPU kernel; use 'views' or 'auto' on {q.device}")
    pad = kernel // 2
    if h <= pad or w <= pad:
        raise ValueError(f"local_window_attention: a {kernel}×{kernel} reflection-padded window needs "
                         f"height and width of at least {pad + 1}, found {h}×{w}")
    d = c // heads
    n = b * heads
    if position is not None and (position.ndim != 4 or position.shape[1:] != (d, h, w) or position.shape[0] not in (1, n)):
        raise ValueError(f"local_window_attention: position must be 1×{d}×{h}×{w}, found {tuple(position.shape)}")
    if impl == "auto":
        impl = "fused" if q.device.type == "cpu" else "views"
    scale = d**-0.5 if scale is None else scale
    qh, kh, vh = q.reshape(n, d, h, w), k.reshape(n, d, h, w), v.reshape(n, d, h, w)
    if impl == "views":
        kh = kh if position is None else kh - position
        padding = (pad, pad, pad, pad)
        out = _window_attention_views(qh * scale, F.pad(kh, padding, mode="reflect"), F.pad(vh, padding, mode="reflect"),
                                      kernel)
        return out.reshape(b, c, h, w)
    dtype = _compute_dtype(q, k, v) if position is None else _compute_dtype(q, k, v, position)
    work = torch.float64 if dtype == torch.float64 else torch.float32
    with torch.autocast(q.device.type, enabled=False):
        pe = None if position is None else position.to(work)
        # the kernels take base-2 logits: q is scaled by log2(e) as well
        out = _fused_window_attention(qh.to(work), kh.to(work), vh.to(work), pe, scale * _kernels().LOG2E, kernel)
    return out.to(dtype).reshape(b, c, h, w)


def _window_attention_views(q: Tensor, k_pad: Tensor, v_pad: Tensor, kernel: int) -> Tensor:
    """Windows as strided views (no copy); a few large kernels (good where launches are costly, e.g. CUDA).
    The broadcast products are transient; autograd keeps q, the padded k, v and the probabilities."""
    n, d, h, w = q.shape
    k_win = k_pad.unfold(2, kernel, 1).unfold(3, kernel, 1).permute(0, 1, 4, 5, 2, 3)  # n,d,K,K,h,w (view)
    v_win = v_pad.unfold(2, kernel, 1).unfold(3, kernel, 1).permute(0, 1, 4, 5, 2, 3)
    logits = (q[:, :, None, None] * k_win).sum(1).reshape(n, kernel * kernel, h, w)
    probs = logits.softmax(1).view(n, 1, kernel, kernel, h, w)
    return (probs * v_win).sum((2, 3))


# torch.compile runs the custom autograd Functions below as opaque calls (one graph break each) instead of
# tracing into their numba kernels and strided views, which it cannot compile.
@torch.compiler.disable
def _fused_window_attention(q: Tensor, k: Tensor, v: Tensor, position: Tensor | None, q_factor: float,
                            kernel: int) -> Tensor:
    out: Tensor = _FusedWindowAttention.apply(q, k, v, position, q_factor, kernel)
    return out


@torch.compiler.disable
def _dynamic_conv(x: Tensor, taps: Tensor, weight: Tensor, padding: int, piece_elements: int) -> Tensor:
    y: Tensor = _DynamicConv.apply(x, taps, weight, padding, piece_elements)
    return y


def _kernels() -> ModuleType:
    """The numba CPU kernels, imported (and compiled) on first use."""
    from rsmif_core.ops import _window_kernels

    return _window_kernels


class _FusedWindowAttention(torch.autograd.Function):
    """The CPU kernels of :mod:`rsmif_core.ops._window_kernels` (float32 or float64) on q·q_factor (scale·log2 e),
    k − position and v, n×d×h×w each (position 1×d×h×w or n×d×h×w, or None): scales q, subtracts the position
    and pads k and v by reflection itself (each in the one copy the kernels' layout needs anyway), saves q, the
    padded k, v, the output and the log-sum-exp of every pixel's window; backward recomputes the probabilities from
    them and returns the gradients of q, the unpadded k, v (the reflection folded back inside the kernel) and position."""

    @staticmethod
    def forward(ctx: FunctionCtx, q: Tensor, k: Tensor, v: Tensor, position: Tensor | None, q_factor: float,
                kernel: int) -> Tensor:
        kernels = _kernels()
        n, d, h, w = q.shape
        pad = kernel // 2
        # q with the padded keys' row pitch (zero columns): every window offset is a constant memory offset
        q_pitch = q.new_zeros(n, d, h, w + 2 * pad)
        torch.mul(q.detach(), q_factor, out=q_pitch[..., :w])
        keys = k.detach() if position is None else k.detach() - position.detach()
        k_pad = F.pad(keys, (pad,) * 4, mode="reflect").contiguous()
        v_pad = F.pad(v.detach(), (pad,) * 4, mode="reflect").contiguous()
        out = q.new_empty(n, d, h, w)
        lse = q.new_empty(n, h, w + 2 * pad)
        blocks = -(-h // kernels.block_rows(w + 2 * pad))
        kernels.run_in_parts(kernels.attention_forward, n * blocks, h * w // blocks, q_pitch.numpy(), k_pad.numpy(),
                             v_pad.numpy(), kernel, q.dtype == torch.float64, out.numpy(), lse.numpy())
        # backward needs the output; a copy, because the caller may change the returned map in place (ReLU)
        ctx.save_for_backward(q_pitch, k_pad, v_pad, lse, out.clone())
        ctx.kernel = kernel  # type: ignore[attr-defined]
        ctx.q_factor = q_factor  # type: ignore[attr-defined]
        ctx.shared_position = position is not None and position.shape[0] == 1  # type: ignore[attr-defined]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_out: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        kernels = _kernels()
        q_pitch, k_pad, v_pad, lse, out = ctx.saved_tensors  # type: ignore[attr-defined]
        kernel: int = ctx.kernel  # type: ignore[attr-defined]
        n, d, h, pitch = q_pitch.shape
        w = grad_out.shape[-1]
        grad = grad_out.to(q_pitch.dtype)
        grad_pitch = F.pad(grad, (0, pitch - w)).contiguous()  # zero: no ignored column counts
        delta = F.pad((grad * out).sum(1), (0, pitch - w)).contiguous()  # Σ over the window of P·dP, per pixel
        grad_q = torch.empty_like(q_pitch)
        grad_k, grad_v = q_pitch.new_empty(n, d, h, w), q_pitch.new_empty(n, d, h, w)
        kernels.run_in_parts(kernels.attention_backward, n, h * w, q_pitch.numpy(), k_pad.numpy(), v_pad.numpy(),
                             lse.numpy(), grad_pitch.numpy(), delta.numpy(), kernel, q_pitch.dtype == torch.float64,
                             grad_q.numpy(), grad_k.numpy(), grad_v.numpy())
        grad_position = None
        if ctx.needs_input_grad[3]:  # type: ignore[attr-defined]
            # keys = k − position: sum over the images first, then one small negation
            grad_position = -grad_k.sum(0, keepdim=True) if ctx.shared_position else -grad_k  # type: ignore[attr-defined]
        return grad_q[..., :w] * ctx.q_factor, grad_k, grad_v, grad_position, None, None  # type: ignore[attr-defined]


# A piece of the per-pixel dynamic convolution holds about this many values of its unfolded input (one sample's
# rows): large enough for an efficient matrix product, small enough to stay in the caches between the two ops
# that write and read it.
PIECE_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class _Piece:
    """Samples s0..s1, output rows r0..r1: several whole samples, or a band of rows of one sample."""

    s0: int
    s1: int
    r0: int
    r1: int

    def pixels(self, wo: int) -> slice:
        return slice(self.r0 * wo, self.r1 * wo)


def _pieces(batch: int, rows: int, per_row: int, piece_elements: int) -> list[_Piece]:
    """Pieces of about ``piece_elements`` unfolded values covering every output row of every sample once."""
    per_sample = rows * per_row
    if per_sample <= piece_elements:
        step = piece_elements // per_sample
        return [_Piece(s, min(s + step, batch), 0, rows) for s in range(0, batch, step)]
    step = max(1, piece_elements // per_row)
    return [_Piece(s, s + 1, r, min(r + step, rows)) for s in range(batch) for r in range(0, rows, step)]


def _windows(x_pad: Tensor, p: _Piece, k: int, wo: int) -> Tensor:
    """The k×k windows of a piece's output pixels: a strided view samples×N×k×k×rows×W' of the padded input."""
    s_b, s_n, s_y, s_x = x_pad.stride()
    size = (p.s1 - p.s0, x_pad.shape[1], k, k, p.r1 - p.r0, wo)
    return x_pad.as_strided(size, (s_b, s_n, s_y, s_x, s_y, s_x), x_pad.storage_offset() + p.s0 * s_b + p.r0 * s_y)


def _piece_taps(taps: Tensor, p: _Piece, k: int) -> Tensor:
    """The piece's taps, samples×1×k×k×rows×W' (broadcast over the input channels)."""
    b, _, ho, wo = taps.shape
    return taps.view(b, 1, k, k, ho, wo)[p.s0 : p.s1, :, :, :, p.r0 : p.r1]


def _scratch_view(scratch: Tensor, p: _Piece, nkk: int, wo: int) -> Tensor:
    """The start of ``scratch`` as the piece's samples × N·k² × pixels."""
    size = (p.s1 - p.s0, nkk, (p.r1 - p.r0) * wo)
    return scratch[: math.prod(size)].view(size)


class _DynamicConv(torch.autograd.Function):
    """y = W · u with u = taps ⊙ unfold(x), never forming the unfolded input of the whole batch.

    Per piece (see :class:`_Piece`): u (N·k² × pixels per sample, ordered like ``weight.view(M, N·k²)``) is
    one broadcast product of a strided window view of the zero-padded x and the taps, then one matrix
    product writes the piece of y. Only x (padded), taps and W are saved; backward rebuilds u per piece (one
    op) for the weight gradient; the input gradient is k² shifted adds of taps ⊙ (Wᵀ · grad y) per piece.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, x: Tensor, taps: Tensor, weight: Tensor, padding: int, piece_elements: int) -> Tensor:
        b, n, h, w = x.shape
        m, _, k, _ = weight.shape
        ho, wo = taps.shape[-2:]
        nkk = n * k * k
        x_pad = F.pad(x, (padding,) * 4).contiguous()
        taps = taps.contiguous()
        wmat = weight.reshape(m, nkk)
        y = x.new_empty(b, m, ho, wo)
        y_pixels = y.view(b, m, ho * wo)
        pieces = _pieces(b, ho, nkk * wo, piece_elements)
        scratch = x.new_empty(nkk * wo * max((p.s1 - p.s0) * (p.r1 - p.r0) for p in pieces))
        for p in pieces:
            u = _scratch_view(scratch, p, nkk, wo)
            windows = _windows(x_pad, p, k, wo)
            torch.mul(windows, _piece_taps(taps, p, k), out=u.view(windows.shape))
            torch.matmul(wmat, u, out=y_pixels[p.s0 : p.s1, :, p.pixels(wo)])
        ctx.save_for_backward(x_pad, taps, weight)
        ctx.plan = (padding, pieces, (h, w))  # type: ignore[attr-defined]
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_y: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x_pad, taps, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        padding, pieces, (h, w) = ctx.plan  # type: ignore[attr-defined]
        need_x, need_taps, need_w = ctx.needs_input_grad[:3]  # type: ignore[attr-defined]
        b, n = x_pad.shape[:2]
        m, _, k, _ = weight.shape
        ho, wo = taps.shape[-2:]
        nkk = n * k * k
        grad_y = grad_y.contiguous().view(b, m, ho * wo)
        wmat = weight.reshape(m, nkk)
        grad_x_pad = torch.zeros_like(x_pad) if need_x else None
        grad_taps = torch.empty_like(taps) if need_taps else None
        grad_wmat = torch.zeros_like(wmat) if need_w else None
        largest = nkk * wo * max((p.s1 - p.s0) * (p.r1 - p.r0) for p in pieces)
        scratch_u, scratch_g = x_pad.new_empty(largest), x_pad.new_empty(largest)
        fused = x_pad.device.type == "cpu" and x_pad.dtype in (torch.float32, torch.float64)
        kernels = _kernels() if fused else None
        for p in pieces:
            g = grad_y[p.s0 : p.s1, :, p.pixels(wo)]
            grad_u = torch.matmul(wmat.t(), g, out=_scratch_view(scratch_g, p, nkk, wo))
            windows = _windows(x_pad, p, k, wo)
            cols = _scratch_view(scratch_u, p, nkk, wo).view(windows.shape)
            if grad_wmat is not None:
                u = torch.mul(windows, _piece_taps(taps, p, k), out=cols).view(g.shape[0], nkk, -1)
                grad_wmat += torch.matmul(g, u.transpose(1, 2)).sum(0) if g.shape[0] > 1 else g[0] @ u[0].t()
            grad_cols = grad_u.view(windows.shape)
            if kernels is not None:  # one pass each over the unfolded gradient instead of torch's several
                samples, rows = p.s1 - p.s0, p.r1 - p.r0
                if grad_taps is not None:
                    kernels.run_in_parts(kernels.dynamic_conv_grad_taps, samples * rows, wo * n * k * k // 32,
                                         grad_cols.numpy(), x_pad.numpy(), p.s0, p.r0, grad_taps.view(b, k, k, ho, wo).numpy())
                if grad_x_pad is not None:
                    kernels.run_in_parts(kernels.dynamic_conv_grad_input, samples * n, rows * wo * k * k // 32,
                                         grad_cols.numpy(), taps.view(b, k, k, ho, wo).numpy(), p.s0, p.r0, grad_x_pad.numpy())
                continue
            if grad_taps is not None:  # Σ_n grad_u ⊙ the windows of x
                prod = torch.mul(grad_cols, windows, out=cols)
                torch.sum(prod, 1, out=grad_taps.view(b, k, k, ho, wo)[p.s0 : p.s1, :, :, p.r0 : p.r1])
            if grad_x_pad is not None:  # col2im as k² shifted adds (several times faster than F.fold on CPU)
                grad_cols.mul_(_piece_taps(taps, p, k))
                for ky in range(k):
                    for kx in range(k):
                        grad_x_pad[p.s0 : p.s1, :, p.r0 + ky : p.r1 + ky, kx : kx + wo] += grad_cols[:, :, ky, kx]
        grad_x = None
        if grad_x_pad is not None:
            grad_x = grad_x_pad[:, :, padding : padding + h, padding : padding + w]
        grad_w = grad_wmat.view(weight.shape) if grad_wmat is not None else None
        return grad_x, grad_taps, grad_w, None, None


def dynamic_conv2d(x: Tensor, taps: Tensor, weight: Tensor, padding: int | None = None) -> Tensor:
    """A k×k convolution (stride 1, zero padding) whose k² taps are re-weighted by ``taps``.

    ``x`` B×N×H×W; ``weight`` M×N×k×k; ``taps`` either B×k²×H'×W' (one weight per tap and output pixel,
    shared by all input channels: RSAM, TSAM, AFM) or B×k²×1×1 / B×k² (one per tap and sample: SICM),
    taps ordered row-major over the kernel window. H' = H + 2·padding − k + 1 (padding defaults to k // 2).
    Output B×M×H'×W'::

        y_m(p) = Σ_{n, j} weight[m, n, j] · taps_j(p) · x_n(p + δ_j)

    which is ``matmul(unfold(x, k, padding) ⊙ taps (repeated over n), weightᵀ)`` in the authors' code.
    Per-pixel taps: per piece of one sample's rows, one broadcast product (taps ⊙ the windows of x, a strided
    view) and one matrix product (see ``_DynamicConv``), with only x, taps and weight kept for backward.
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
    return _dynamic_conv_per_pixel(x, taps, weight, padding)


def _dynamic_conv_per_pixel(x: Tensor, taps: Tensor, weight: Tensor, padding: int,
                            piece_elements: int = PIECE_ELEMENTS) -> Tensor:
    dtype = _compute_dtype(x, taps, weight)
    with torch.autocast(x.device.type, enabled=False):
        y = _dynamic_conv(x.to(dtype), taps.to(dtype), weight.to(dtype), padding, piece_elements)
    return y
