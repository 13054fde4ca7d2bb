"""The statistics the reduced-resolution indices are built from, and where they are computed.

With ``kernels="numba"`` (the default) CPU tensors go through the fused numba kernels of
:mod:`rsmif_core.metrics.kernels` (one pass over the pixels, run on the metrics thread pool); tensors on
any other device, and every tensor with ``kernels="torch"``, through batched torch ops. Both give the
same numbers to rounding (tested); the formulas that turn them
into indices are written once, in :mod:`rsmif_core.metrics.functional`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from rsmif_core.metrics.checks import MetricInputError
from rsmif_core.metrics.chunks import over_leading

Kernels = Literal["numba", "torch"]
KERNELS: tuple[str, ...] = ("numba", "torch")


def use_kernels(t: Tensor, kernels: Kernels) -> bool:
    """Whether ``t``'s statistics run on the fused CPU kernels: ``kernels="numba"`` and ``t`` on the CPU."""
    if kernels not in KERNELS:
        raise MetricInputError(f"kernels={kernels!r}: expected one of {', '.join(KERNELS)}")
    return t.device.type == "cpu" and kernels == "numba"


def run_kernel(name: str, item_shape: tuple[int, ...], *tensors: Tensor,
               args: tuple[float | int | bool | np.ndarray, ...] = ()) -> Tensor:
    """``kernels.<name>(*arrays, *args, out)`` over the leading axis, one part per thread -> n × item_shape."""
    from rsmif_core.metrics import kernels  # numba is imported (and kernels compiled) on first use only

    kernel: Callable[..., None] = getattr(kernels, name)

    def call(*parts: Tensor) -> Tensor:
        n = parts[0].shape[0]
        out = np.empty((n, *item_shape))
        kernel(*(p.numpy() for p in parts), *args, out)
        return torch.from_numpy(out)

    arrays = [t.detach().to(torch.float64).contiguous() for t in tensors]
    n = arrays[0].shape[0]
    per_item = arrays[0][0].numel() if n else 1
    return over_leading(call, *arrays, target=per_item * max(1, math.ceil(n / torch.get_num_threads())), pool=True)


def kernel_or_torch(name: str, item_shape: tuple[int, ...], torch_path: Callable[..., Tensor], *tensors: Tensor,
                    kernels: Kernels, args: tuple[float | int | bool | np.ndarray, ...] = ()) -> Tensor:
    """:func:`run_kernel` when :func:`use_kernels`, else ``torch_path`` over cache-sized chunks of the leading axis."""
    if use_kernels(tensors[0], kernels):
        return run_kernel(name, item_shape, *tensors, args=args)
    return over_leading(torch_path, *tensors)


# ----------------------------------------------------------------------------- per band


def band_statistics(f: Tensor, r: Tensor, kernels: Kernels = "numba") -> Tensor:
    """B×C×H×W pair -> B×C×6: ``Σ(r - f)², mean r, mean f, Σ(f - f̄)(r - r̄), Σ(f - f̄)², Σ(r - r̄)²`` per band.

    Centred sums are two-pass (means first), as accurate as ``np.corrcoef``.
    """
    b, c, h, w = f.shape
    maps = (f.reshape(b * c, h, w), r.reshape(b * c, h, w))
    return kernel_or_torch("band_statistics", (6,), _band_statistics_torch, *maps, kernels=kernels).reshape(b, c, 6)


def _band_statistics_torch(f: Tensor, r: Tensor) -> Tensor:
    mean_f = f.mean(dim=(-2, -1), keepdim=True)
    mean_r = r.mean(dim=(-2, -1), keepdim=True)
    squared_error = (r - f).square_().sum(dim=(-2, -1))
    df = f - mean_f
    dr = r - mean_r
    cross = (df * dr).sum(dim=(-2, -1))
    stats = [squared_error, mean_r[..., 0, 0], mean_f[..., 0, 0], cross,
             df.square_().sum(dim=(-2, -1)), dr.square_().sum(dim=(-2, -1))]
    return torch.stack(stats, dim=-1)


def band_mse(stats: Tensor, pixels: int) -> Tensor:
    """Mean squared error per band from :func:`band_statistics`."""
    return stats[..., 0] / pixels


def band_pearson(stats: Tensor) -> Tensor:
    """Pearson correlation per band from :func:`band_statistics`; 1 when both bands are flat, 0 when one is."""
    cross, var_f, var_r = stats[..., 3], stats[..., 4], stats[..., 5]
    den = torch.sqrt(var_f) * torch.sqrt(var_r)
    both_flat = ((var_f == 0) & (var_r == 0)).to(cross.dtype)
    return torch.where(den > 0, cross / torch.where(den > 0, den, torch.ones_like(den)), both_flat)


# ----------------------------------------------------------------------------- per pixel


def angle_sums(f: Tensor, r: Tensor, kernels: Kernels = "numba") -> Tensor:
    """B×C×H×W pair -> B×2: (Σ spectral angle in radians, number of pixels) over the pixels whose two
    vectors are both non-zero (``SAM.m``; ``real(acos(.))`` equals clamping the cosine to [-1, 1])."""
    return kernel_or_torch("angle_sums", (2,), _angle_sums_torch, f, r, kernels=kernels)


def _angle_sums_torch(f: Tensor, r: Tensor) -> Tensor:
    # accumulate band by band: three pixel-sized sums instead of band-sized products
    dot = f[:, 0] * r[:, 0]
    ff = f[:, 0] * f[:, 0]
    rr = r[:, 0] * r[:, 0]
    for c in range(1, f.shape[1]):
        dot.addcmul_(f[:, c], r[:, c])
        ff.addcmul_(f[:, c], f[:, c])
        rr.addcmul_(r[:, c], r[:, c])
    den = rr.mul_(ff).sqrt_()
    valid = den > 0
    cos = dot / torch.where(valid, den, torch.ones_like(den))
    angle = torch.where(valid, torch.acos(cos.clamp(-1.0, 1.0)), torch.zeros_like(cos))
    return torch.stack([angle.sum(dim=(-2, -1)), valid.sum(dim=(-2, -1)).to(angle.dtype)], dim=-1)


def sobel_sums(f: Tensor, r: Tensor, kernels: Kernels = "numba") -> Tensor:
    """Maps n×H×W -> n×3: ``Σ|∇f|·|∇r|, Σ|∇f|², Σ|∇r|²`` with ``∇`` the Sobel pair on each map's interior
    (``imfilter(I(2:end-1, 2:end-1), fspecial('sobel'))`` and its transpose, zero padding), as in ``SCC.m``."""
    return kernel_or_torch("sobel_sums", (3,), _sobel_sums_torch, f, r, kernels=kernels)


def _sobel_sums_torch(f: Tensor, r: Tensor) -> Tensor:
    gf, gr = _sobel_magnitude(f), _sobel_magnitude(r)
    cross = (gf * gr).sum((-2, -1))
    return torch.stack([cross, gf.square_().sum((-2, -1)), gr.square_().sum((-2, -1))], dim=-1)


def _smooth_121(q: Tensor, dim: int) -> Tensor:
    """``[1 2 1]`` along ``dim`` with zero padding, same size (written without a padded copy)."""
    n = q.shape[dim]
    if n == 1:
        return 2 * q
    out = torch.empty_like(q)
    torch.add(q.narrow(dim, 0, n - 2), q.narrow(dim, 2, n - 2), out=out.narrow(dim, 1, n - 2))
    out.narrow(dim, 1, n - 2).add_(q.narrow(dim, 1, n - 2), alpha=2)
    torch.add(q.narrow(dim, 1, 1), q.narrow(dim, 0, 1), alpha=2, out=out.narrow(dim, 0, 1))
    torch.add(q.narrow(dim, n - 2, 1), q.narrow(dim, n - 1, 1), alpha=2, out=out.narrow(dim, n - 1, 1))
    return out


def _central_difference(s: Tensor, dim: int) -> Tensor:
    """``s[i-1] - s[i+1]`` along ``dim`` with zero padding, same size."""
    n = s.shape[dim]
    if n == 1:
        return torch.zeros_like(s)
    out = torch.empty_like(s)
    torch.sub(s.narrow(dim, 0, n - 2), s.narrow(dim, 2, n - 2), out=out.narrow(dim, 1, n - 2))
    torch.neg(s.narrow(dim, 1, 1), out=out.narrow(dim, 0, 1))
    out.narrow(dim, n - 1, 1).copy_(s.narrow(dim, n - 2, 1))
    return out


def _sobel_magnitude(x: Tensor) -> Tensor:
    """Sobel gradient magnitude of the interior of every n×H×W map (zero padding), as sums of shifted
    slices (on CPU a float64 ``conv2d`` is several times slower)."""
    interior = x[:, 1:-1, 1:-1]
    gy = _central_difference(_smooth_121(interior, 2), 1)
    gx = _central_difference(_smooth_121(interior, 1), 2)
    return torch.hypot(gy, gx, out=gy)


# ----------------------------------------------------------------------------- per window


def ssim_means(x: Tensor, y: Tensor, taps: tuple[float, ...], c1: float, c2: float,
               torch_path: Callable[[Tensor, Tensor], Tensor], kernels: Kernels = "numba") -> Tensor:
    """Mean SSIM map of every n×H×W map pair on the CPU kernel (written for the 11-tap symmetric window of
    ``ssim.m``), else ``torch_path(x, y)``."""
    if use_kernels(x, kernels) and len(taps) == 11 and taps == taps[::-1]:
        return run_kernel("ssim_means", (), x, y, args=(np.asarray(taps[:6], dtype=np.float64), float(c1), float(c2)))
    return over_leading(torch_path, x, y)


def q_sliding_means(x: Tensor, y: Tensor, size: int, torch_path: Callable[[Tensor, Tensor], Tensor],
                    kernels: Kernels = "numba") -> Tensor:
    """Mean ``img_qi`` map (``size`` windows sliding by one) of every n×H×W map pair on the CPU kernel,
    else ``torch_path(x, y)``."""
    return kernel_or_torch("q_sliding_means", (), torch_path, x, y, kernels=kernels, args=(int(size),))
