"""Q2n (Q4, Q8, ... the hypercomplex UIQI of Garzelli & Nencini), batched over every block at once.

Follows ``q2n.m`` / ``onions_quality.m`` / ``onion_mult*.m`` / ``norm_blocco.m`` of the toolbox:

1. rows/columns missing to cover the image with whole blocks are appended by mirroring the last ones
   (edge included) — the authors' Python port gets this slice wrong;
2. both images are quantised like MATLAB ``uint16``: round half away from zero, saturated to
   [0, 65535] (negatives -> 0). Q2n is therefore only meaningful on the DN scale (e.g. 0..2047);
3. bands are zero-padded to the next power of two (the port raises for 31 or 3 bands);
4. per block, each reference band is normalised with its own mean and ``std2`` (ddof=1; eps if 0) and
   the fused band with the *reference's* statistics; when the reference block mean is exactly 0 the
   toolbox shifts the fused band without dividing (``norm_blocco`` branch on the mean), kept here;
5. the block index is ``|cov(z1, z2*)| ... `` with Cayley-Dickson products and N/(N-1) normalisation;
   Q2n is the mean of the block moduli.

Instead of forming the per-pixel hypercomplex product (``onion_mult2D``) block by block, we use its
bilinearity: the block mean of ``z1 ⊗ z2`` is ``Σ_ij T[k,i,j] E[z1_i z2_j]``, where the cross-moment
matrix ``E[z1_i z2_j]`` of every block comes from one batched matrix product and ``T`` (each basis
product is ± one basis element) is derived once from the toolbox's recursion. On CPU the block moments
come from the fused kernel :func:`rsmif_core.metrics.kernels.q2n_block_moments`; the rest is shared.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from rsmif_core.metrics.moments import Kernels, kernel_or_torch

EPS = float(np.finfo(np.float64).eps)  # MATLAB eps


def _onion_mult(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``onion_mult2D`` of the toolbox on N×P arrays (components first), vectorised over P."""
    n = a.shape[0]
    if n == 1:
        return a * b

    def conj_tail(v: np.ndarray) -> np.ndarray:
        return np.concatenate([v[:1], -v[1:]])

    half = n // 2
    p, q = a[:half], conj_tail(a[half:])
    r, s = b[:half], conj_tail(b[half:])
    if n == 2:
        return np.concatenate([p * r - s * q, p * s + r * q])
    first = _onion_mult(p, r) - _onion_mult(s, conj_tail(q))
    second = _onion_mult(conj_tail(p), s) + _onion_mult(r, q)
    return np.concatenate([first, second])


@lru_cache(maxsize=16)
def product_table(n: int) -> tuple[np.ndarray, np.ndarray]:
    """For the 2^k-dimensional algebra: ``target[i, j]`` and ``sign[i, j]`` with e_i ⊗ e_j = sign · e_target.

    The product of two basis elements is ± e_(i xor j); the sign follows the toolbox's recursion
    (``onion_mult``) level by level, in O(n²) (checked against the recursion itself in the tests).
    """
    sign = np.ones((1, 1))
    size = 1
    while size < n:
        flip = np.where(np.arange(size) == 0, 1.0, -1.0)  # conj_tail factors: +1 for the real part
        top = np.hstack([sign, flip[:, None] * flip[None, :] * sign])
        bottom = np.hstack([flip[:, None] * sign.T, -(flip * flip)[:, None] * flip[None, :] * sign.T])
        sign = np.vstack([top, bottom])
        size *= 2
    idx = np.arange(n)
    return idx[:, None] ^ idx[None, :], sign


def product_table_by_recursion(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The same table by multiplying basis elements with :func:`_onion_mult` (slow; for tests)."""
    eye = np.eye(n)
    prod = _onion_mult(np.repeat(eye, n, axis=1), np.tile(eye, (1, n)))  # column i*n + j: e_i ⊗ e_j
    target = np.abs(prod).argmax(axis=0)
    return target.reshape(n, n), prod[target, np.arange(n * n)].reshape(n, n)


def _hyper_product_from_moments(moments: Tensor, n: int) -> Tensor:
    """Σ_ij T[k,i,j] moments[..., i, j] -> ...×n."""
    target, sign = product_table(n)
    idx = torch.as_tensor(target.reshape(-1), device=moments.device)
    sgn = torch.as_tensor(sign.reshape(-1), device=moments.device, dtype=moments.dtype)
    flat = moments.reshape(*moments.shape[:-2], n * n) * sgn
    out = torch.zeros(*moments.shape[:-2], n, dtype=moments.dtype, device=moments.device)
    return out.index_add_(-1, idx, flat)


def quantise_uint16_(x: Tensor) -> Tensor:
    """MATLAB ``uint16(x)`` on float data, in place: round half away from zero, saturate to [0, 65535]
    (NaN stays NaN)."""
    return x.add_(0.5).floor_().clamp_(0.0, 65535.0)


def _mirror_pad(x: Tensor, extra_h: int, extra_w: int) -> Tensor:
    h, w = x.shape[-2:]
    if extra_w > 0:
        x = torch.cat([x, x[..., :, w - extra_w : w].flip(-1)], dim=-1)
    if extra_h > 0:
        x = torch.cat([x, x[..., h - extra_h : h, :].flip(-2)], dim=-2)
    return x


def _block_layout(h: int, w: int, block_size: int, shift: int) -> tuple[int, int, int, int]:
    steps_h = max(math.ceil(h / shift), 1)
    steps_w = max(math.ceil(w / shift), 1)
    extra_h = (steps_h - 1) * shift + block_size - h
    extra_w = (steps_w - 1) * shift + block_size - w
    if extra_h > h or extra_w > w:
        raise ValueError(
            f"q2n: the image ({h}×{w}) is too small for block size {block_size} and shift {shift} "
            "(the toolbox mirrors at most one image size)"
        )
    return steps_h, steps_w, extra_h, extra_w


def q2n_blocks(reference: Tensor, fused: Tensor, block_size: int = 32, shift: int = 32,
               quantise: bool = True, kernels: Kernels = "numba") -> Tensor:
    """Block moduli of Q2n: B×C×H×W float64 (DN scale) -> B×nblocks (row-major block grid)."""
    b, c, h, w = reference.shape
    steps_h, steps_w, extra_h, extra_w = _block_layout(h, w, block_size, shift)
    ref = _mirror_pad(reference, extra_h, extra_w)
    fus = _mirror_pad(fused, extra_h, extra_w)
    n_comp = 1 << max(math.ceil(math.log2(c)), 0)
    moments = kernel_or_torch(
        "q2n_block_moments", (steps_h * steps_w, n_comp * n_comp + 4 * n_comp),
        lambda r, f: _block_moments_torch(r, f, block_size, shift, steps_h, steps_w, n_comp, quantise), ref, fus,
        kernels=kernels, args=(block_size, shift, steps_h, steps_w, n_comp, quantise))
    return q2n_from_moments(moments, n_comp, block_size * block_size)


def _block_moments_torch(ref: Tensor, fus: Tensor, block_size: int, shift: int, steps_h: int, steps_w: int,
                         n_comp: int, quantise: bool) -> Tensor:
    """The block moments of :func:`rsmif_core.metrics.kernels.q2n_block_moments` (same layout), in torch."""
    b, c = ref.shape[:2]
    npix = block_size * block_size
    nb = steps_h * steps_w
    # One buffer of blocks: rows 0..N-1 the reference bands, N..2N-1 the fused ones (bands beyond C stay 0).
    z = ref.new_empty(b, nb, 2 * n_comp, npix)
    if n_comp != c:
        z[:, :, c:n_comp].zero_()
        z[:, :, n_comp + c :].zero_()
    for offset, x in ((0, ref), (n_comp, fus)):
        u = x.unfold(-2, block_size, shift).unfold(-2, block_size, shift)[:, :, :steps_h, :steps_w]
        z[:, :, offset : offset + c].view(b, steps_h, steps_w, c, block_size, block_size).copy_(
            u.permute(0, 2, 3, 1, 4, 5))
    if quantise:
        quantise_uint16_(z)
    mean = z[:, :, :n_comp].mean(-1, keepdim=True)
    z.view(b, nb, 2, n_comp, npix).sub_(mean.unsqueeze(2))  # centre both with the reference block means
    z1, z2 = z[:, :, :n_comp], z[:, :, n_comp:]
    cross_c = torch.matmul(z1, z2.transpose(-1, -2)) / npix  # B×nb×N×N, E[(g_i - a_i)(f_j - a_j)]
    squares = torch.linalg.vector_norm(z, dim=-1).square() / npix  # not in place: the loss of λ-PNN differentiates Q2n
    parts = [mean.squeeze(-1), cross_c.flatten(-2), squares[..., :n_comp], squares[..., n_comp:], z2.mean(-1)]
    return torch.cat(parts, dim=-1)


def q2n_from_moments(moments: Tensor, n_comp: int, npix: int) -> Tensor:
    """Block moduli (B×nblocks) from the block moments (B×nblocks×(N² + 4N), layout of the kernel)."""
    n = n_comp
    mean = moments[..., :n]
    cross_c = moments[..., n : n + n * n].unflatten(-1, (n, n))
    var_g, sq_fc, mean_fc = moments[..., n + n * n :].unflatten(-1, (3, n)).unbind(-2)
    unbias = npix / (npix - 1) if npix > 1 else 1.0
    # norm_blocco: z1 = (g - a)/c + 1 and z2 = (f - a)/c' + 1 with the reference block statistics
    # (c' = 1 when a == 0, the toolbox's branch on the mean); then z2 is conjugated (sign s_j).
    # Everything below is expressed through moments of the centred blocks, so the normalised
    # blocks are never formed: E[z1_i] = 1, E[z2_j] = s_j (E[f_j - a_j]/c'_j + 1), and
    # E[z1_i z2_j] = s_j (E[(g_i - a_i)(f_j - a_j)] / (c_i c'_j) + E[f_j - a_j]/c'_j + 1).
    std = torch.sqrt(var_g * unbias) if npix > 1 else torch.zeros_like(var_g)
    std = torch.where(std == 0, torch.full_like(std, EPS), std)
    scale_f = torch.where(mean == 0, torch.ones_like(std), std)
    sign = torch.ones(n, dtype=moments.dtype, device=moments.device)
    sign[1:] = -1

    m1 = torch.ones_like(var_g)
    m2 = sign * (mean_fc / scale_f + 1)
    norm_m1_sq = (m1 * m1).sum(-1)
    norm_m2_sq = (m2 * m2).sum(-1)
    e_z1_sq = var_g / (std * std) + 1  # E[z1_i^2]
    e_z2_sq = sq_fc / (scale_f * scale_f) + 2 * mean_fc / scale_f + 1  # E[z2_j^2] (the sign squares away)
    int1 = unbias * e_z1_sq.sum(-1)
    int2 = unbias * e_z2_sq.sum(-1)
    term3 = int1 + int2 - unbias * (norm_m1_sq + norm_m2_sq)
    mean_bias = 2 * torch.sqrt(norm_m1_sq) * torch.sqrt(norm_m2_sq) / (norm_m1_sq + norm_m2_sq)

    cross = cross_c / (std.unsqueeze(-1) * scale_f.unsqueeze(-2)) + (mean_fc / scale_f).unsqueeze(-2) + 1
    cross = cross * sign  # E[z1_i z2_j]
    qv = unbias * _hyper_product_from_moments(cross, n)
    qm = _hyper_product_from_moments(m1.unsqueeze(-1) * m2.unsqueeze(-2), n)
    safe_term3 = torch.where(term3 == 0, torch.ones_like(term3), term3)
    q = (qv - unbias * qm) * (mean_bias * 2 / safe_term3).unsqueeze(-1)
    modulus = torch.linalg.vector_norm(q, dim=-1)
    return torch.where(term3 == 0, mean_bias.abs(), modulus)


def q2n_value(reference: Tensor, fused: Tensor, block_size: int = 32, shift: int = 32,
              quantise: bool = True, kernels: Kernels = "numba") -> Tensor:
    """Q2n per image (B,): the mean over blocks of the block moduli."""
    return q2n_blocks(reference, fused, block_size, shift, quantise, kernels).mean(-1)
