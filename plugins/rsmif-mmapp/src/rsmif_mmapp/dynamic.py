"""Local-window attention and 3×3 dynamic convolutions used by MMAPP's AEIMs (temporary plain copy).

These are placeholders for ``rsmif_core.ops.attention`` (owned by the RSANet plugin's author); the
model switches to the shared functions once they exist.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def local_window_attention(q: Tensor, k: Tensor, v: Tensor, heads: int, kernel: int, position: Tensor | None = None) -> Tensor:
    """Softmax attention of every pixel over its ``kernel``×``kernel`` reflection-padded window.

    ``q``, ``k``, ``v``: B×C×H×W with C = heads · head_dim; ``position``: 1×head_dim×H×W positional
    encoding subtracted from the keys (ACmix's relative term ``q·(pe(p) − pe(p+δ))``: the ``q·pe(p)``
    part is the same for every window position and cancels in the softmax).
    """
    b, c, h, w = q.shape
    hd = c // heads
    pad = kernel // 2
    qh = q.reshape(b * heads, hd, 1, h * w) * hd**-0.5
    kh = k.reshape(b * heads, hd, h, w)
    if position is not None:
        kh = kh - position
    kp = F.pad(kh, (pad, pad, pad, pad), mode="reflect")
    vp = F.pad(v.reshape(b * heads, hd, h, w), (pad, pad, pad, pad), mode="reflect")
    uk = F.unfold(kp, kernel).view(b * heads, hd, kernel * kernel, h * w)
    att = (qh * uk).sum(1).softmax(1)
    uv = F.unfold(vp, kernel).view(b * heads, hd, kernel * kernel, h * w)
    return (att.unsqueeze(1) * uv).sum(2).view(b, c, h, w)


def dynamic_conv3x3_per_pixel(x: Tensor, taps: Tensor, weight: Tensor) -> Tensor:
    """``y(p) = Σ_{c,j} W[m,c,j] · taps_j(p) · x_c(p+δ_j)``: a 3×3 convolution whose nine taps are
    re-weighted at every pixel (``taps`` B×9×H×W, shared by all input channels), zero padding 1."""
    b, n, h, w = x.shape
    m = weight.shape[0]
    cols = F.unfold(x, 3, padding=1).view(b, n, 9, h * w) * taps.reshape(b, 1, 9, h * w)
    return torch.matmul(weight.reshape(m, n * 9), cols.view(b, n * 9, h * w)).view(b, m, h, w)


def dynamic_conv3x3_per_sample(x: Tensor, taps: Tensor, weight: Tensor) -> Tensor:
    """The same with one set of nine tap weights per sample (``taps`` B×9): a grouped convolution
    with kernel ``W ⊙ taps_b`` for sample b, no unfolded copy of ``x``."""
    b, n, h, w = x.shape
    m = weight.shape[0]
    kernels = weight.unsqueeze(0) * taps.reshape(b, 1, 1, 3, 3)
    y = F.conv2d(x.reshape(1, b * n, h, w), kernels.reshape(b * m, n, 3, 3), padding=1, groups=b)
    return y.view(b, m, h, w)
