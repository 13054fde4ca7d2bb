"""The universal image quality index (UIQI, Wang & Bovik) on sliding windows, on distinct blocks, and globally.

All functions take B×C×H×W float64 tensors (``y`` may have one band, broadcast against ``x``) and
return B×C tensors: the mean of the per-window (or per-block) index of each band.

Degenerate windows follow ``img_qi.m``: when both variances vanish the index is
``2 μx μy / (μx² + μy²)``, and 1 when the means vanish too. The toolbox's block UQI (``uqi`` inside
``D_lambda.m`` / ``D_s.m``) has no such guard and returns NaN for a flat block; we apply the ``img_qi``
convention there as well so a flat block never turns a whole score into NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rsmif_core.metrics.chunks import over_leading
from rsmif_core.metrics.filters import window_moments
from rsmif_core.metrics.moments import Kernels, q_sliding_means


def _quality(n2_cov: Tensor, n2_mean_prod: Tensor, n2_var_sum: Tensor, n2_mean_sq_sum: Tensor) -> Tensor:
    """img_qi's quality map from N²-scaled moments, with its special cases for zero denominators.

    Overwrites ``n2_cov`` in the usual case (no flat window), which skips the masked branches.
    """
    denominator = n2_var_sum * n2_mean_sq_sum
    if int(torch.count_nonzero(denominator)) == denominator.numel():
        return n2_cov.mul_(n2_mean_prod).mul_(4).div_(denominator)
    safe_den = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
    safe_mean = torch.where(n2_mean_sq_sum != 0, n2_mean_sq_sum, torch.ones_like(n2_mean_sq_sum))
    general = 4 * n2_cov * n2_mean_prod / safe_den
    flat = torch.where(n2_mean_sq_sum != 0, 2 * n2_mean_prod / safe_mean, torch.ones_like(general))
    return torch.where(denominator != 0, general, flat)


def q_sliding(x: Tensor, y: Tensor, block_size: int, kernels: Kernels = "numba") -> Tensor:
    """``img_qi(x_c, y_c, block_size)`` averaged over its 'valid' stride-1 map, per band -> B×C (toolbox ``Q.m``)."""
    b, c, h, w = x.shape
    maps = (x.reshape(b * c, h, w), y.reshape(b * c, h, w))
    flat = q_sliding_means(*maps, block_size, lambda u, v: _q_sliding_maps(u, v, block_size), kernels)
    return flat.reshape(b, c)


def _q_sliding_maps(x: Tensor, y: Tensor, block_size: int) -> Tensor:
    sx, sy, s_sq, s_xy = window_moments(x, y, (1.0,) * block_size)  # window sums
    n = float(block_size * block_size)
    mean_prod = sx * sy
    mean_sq_sum = sx.mul_(sx).addcmul_(sy, sy)
    cov = s_xy.mul_(n).sub_(mean_prod)
    var_sum = s_sq.mul_(n).sub_(mean_sq_sum)
    return _quality(cov, mean_prod, var_sum, mean_sq_sum).mean(dim=(-2, -1))


def _blocks(x: Tensor, block_size: int) -> Tensor:
    """B×C×H×W (H, W multiples of S) -> B×C×nblocks×S² distinct blocks (blockproc order does not matter)."""
    b, c, h, w = x.shape
    s = block_size
    return x.reshape(b, c, h // s, s, w // s, s).permute(0, 1, 2, 4, 3, 5).reshape(b, c, (h // s) * (w // s), s * s)


def q_blocks(x: Tensor, y: Tensor, block_size: int) -> Tensor:
    """Toolbox ``blockproc(x, [S S], uqi)`` averaged over the blocks, per band -> B×C.

    Central moments are computed two-pass (mean first), which is more accurate than raw sums.
    """
    return over_leading(lambda u, v: _q_blocks(u, v, block_size), x, y)


def _q_blocks(x: Tensor, y: Tensor, block_size: int) -> Tensor:
    bx = _blocks(x, block_size)
    by = _blocks(y, block_size)
    mx = bx.mean(-1)
    my = by.mean(-1)
    dx = bx - mx.unsqueeze(-1)
    dy = by - my.unsqueeze(-1)
    cov = (dx * dy).mean(-1)
    var_sum = (dx * dx).mean(-1) + (dy * dy).mean(-1)
    return _quality(cov, mx * my, var_sum, mx * mx + my * my).mean(-1)


def q_blocks_pairwise(x: Tensor, block_size: int) -> Tensor:
    """Blockwise UIQI between every pair of bands of ``x``, averaged over the blocks -> B×C×C.

    One centred Gram matrix per block (a batched matrix product) instead of one pass per band pair.
    """
    return over_leading(lambda u: _q_blocks_pairwise(u, block_size), x)


def _q_blocks_pairwise(x: Tensor, block_size: int) -> Tensor:
    blocks = _blocks(x, block_size).transpose(1, 2)  # B×nb×C×S²
    mean = blocks.mean(-1)
    centred = blocks - mean.unsqueeze(-1)
    gram = torch.matmul(centred, centred.transpose(-1, -2)) / centred.shape[-1]  # B×nb×C×C
    var = torch.diagonal(gram, dim1=-2, dim2=-1)
    mean_prod = mean.unsqueeze(-1) * mean.unsqueeze(-2)
    mean_sq_sum = mean.unsqueeze(-1) ** 2 + mean.unsqueeze(-2) ** 2
    var_sum = var.unsqueeze(-1) + var.unsqueeze(-2)
    return _quality(gram, mean_prod, var_sum, mean_sq_sum).mean(1)


def q_global_authors(x: Tensor, y: Tensor, eps: float = 1e-21) -> Tensor:
    """The authors' ``QIndex_numpy``: one UIQI over the whole band (np.cov, ddof=1), ``eps`` in both denominators -> B×C."""
    x, y = torch.broadcast_tensors(x, y)
    fx = x.flatten(-2)
    fy = y.flatten(-2)
    n = fx.shape[-1]
    mx = fx.mean(-1)
    my = fy.mean(-1)
    dx = fx - mx.unsqueeze(-1)
    dy = fy - my.unsqueeze(-1)
    cov = (dx * dy).sum(-1) / (n - 1)
    var_x = (dx * dx).sum(-1) / (n - 1)
    var_y = (dy * dy).sum(-1) / (n - 1)
    return 4 * cov * mx * my / (var_x + var_y + eps) / (mx * mx + my * my + eps)
