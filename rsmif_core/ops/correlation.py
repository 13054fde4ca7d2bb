"""Local correlation fields: the Pearson correlation of two images over a sliding window, per pixel."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rsmif_core.ops.checks import check_image


def _box_mean(x: Tensor, half_width: int) -> Tensor:
    """Mean over the 2w×2w window whose rows and columns run from -w+1 to +w around each pixel, zeros outside
    the image, divided by the full window size everywhere (Ciotola et al.'s ``xcorr_torch``)."""
    w = half_width
    padded = F.pad(x, (w - 1, w, w - 1, w))
    if w >= 4:  # separable: two 2w passes beat one (2w)² pass from 16×16 windows on (the threshold's)
        return F.avg_pool2d(F.avg_pool2d(padded, (1, 2 * w), stride=1), (2 * w, 1), stride=1)
    return F.avg_pool2d(padded, 2 * w, stride=1)


def local_correlation(x: Tensor, y: Tensor, half_width: int, eps: float = 1e-20) -> Tensor:
    """Correlation coefficient of ``x`` and ``y`` (B×C×H×W, broadcast over bands) in 2w×2w windows, per pixel.

    The definition of Z-PNN and λ-PNN (Ciotola et al., IEEE TGRS 2022 and 2023): both images are centred on
    their local means, then ``Σ xy / sqrt(Σ x² Σ y²)`` over the window, with variances floored at ``eps``.
    Computed in float64 like theirs; differentiable.
    """
    check_image(x, "x")
    check_image(y, "y")
    if half_width < 1:
        raise ValueError(f"local_correlation: half_width must be at least 1, found {half_width}")
    x, y = torch.broadcast_tensors(x.double(), y.double())
    xc = x - _box_mean(x, half_width)
    yc = y - _box_mean(y, half_width)
    n = (2 * half_width) ** 2
    sxy = _box_mean(xc * yc, half_width) * n
    sxx = _box_mean(xc * xc, half_width).mul(n).clamp(min=eps)
    syy = _box_mean(yc * yc, half_width).mul(n).clamp(min=eps)
    return sxy / (torch.sqrt(sxx * syy) + eps)
