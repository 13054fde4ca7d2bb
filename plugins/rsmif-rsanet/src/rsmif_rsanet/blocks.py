"""RSANet's building blocks, with the paper's names: SA, RSAM (recursive self-attention module), RSARB.

Parameter names and shapes equal the authors' (``models/MSIP/RSAM.py``), except the SA's ``dep_conv``,
which the authors create but never use in ``forward`` and which is therefore left out here (their
checkpoints still load: ``RSANet.authors_unused_keys`` drops it).
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import Tensor, nn

from rsmif_core import (
    PointwiseConv2d,
    dynamic_conv2d,
    local_window_attention,
    pointwise_conv2d,
    position_grid,
)

ATTENTION_IMPLS = ("auto", "fused", "views")  # see rsmif_core.local_window_attention


class SA(nn.Module):
    """Local-window self-attention (ACmix's attention path): 1×1 q/k/v, 7×7 reflection-padded windows,
    a relative positional term from ``conv_p`` on the linspace position grid, per-head softmax over the
    window, output scaled by the learned ``rate1`` (initialised to 0.5).

    The output has ``out_planes`` channels (9 in RSANet: one per 3×3 tap) split into ``heads`` heads.
    Computed by :func:`rsmif_core.local_window_attention`: fused CPU kernels or strided views (CUDA) instead
    of the authors' unfolded copies (same result to float rounding). q, k and v come from one 1×1
    convolution with the three kernels stacked.
    Note: ``conv_p.bias`` is added to both sides of ``pe(p) − pe(p+δ)`` and so never influences the
    output (nor gets a gradient) — true of the authors' network as well; it is kept for weight loading.
    """

    def __init__(self, in_planes: int, out_planes: int, kernel_att: int = 7, heads: int = 3,
                 attention_impl: str = "auto") -> None:
        super().__init__()
        if out_planes % heads:
            raise ValueError(f"SA: out_planes {out_planes} is not divisible by heads {heads}")
        if attention_impl not in ATTENTION_IMPLS:
            raise ValueError(f"SA: attention_impl must be one of {', '.join(ATTENTION_IMPLS)}, found {attention_impl!r}")
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.kernel_att = kernel_att
        self.heads = heads
        self.attention_impl = attention_impl
        self.head_dim = out_planes // heads
        self.rate1 = nn.Parameter(torch.full((1,), 0.5))
        self.conv1 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv2 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv3 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv_p = PointwiseConv2d(2, self.head_dim)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        pe = self.conv_p(position_grid(h, w, device=x.device, dtype=x.dtype))
        # q, k, v from one 1×1 convolution with the three kernels stacked (fewer, larger ops). The attention is
        # linear in v, so rate1 scales v's kernel instead of the output map (same numbers to float rounding).
        weight = torch.cat([self.conv1.weight, self.conv2.weight, self.rate1.view(1, 1, 1, 1) * self.conv3.weight])
        bias = torch.cat([cast(Tensor, self.conv1.bias), cast(Tensor, self.conv2.bias),
                          self.rate1 * cast(Tensor, self.conv3.bias)])
        q, k, v = pointwise_conv2d(x, weight, bias).chunk(3, dim=1)
        return local_window_attention(q, k, v, self.heads, self.kernel_att, position=pe, impl=self.attention_impl)


class RSAM(nn.Module):
    """Recursive self-attention module: a k×k convolution whose k² taps are re-weighted at every pixel.

    ``attention1`` = SA(in → k²), ReLU, then ``recursions − 1`` times SA(k² → k²) with ReLU between and a
    Sigmoid at the end (the paper's m = 4 recursions; Sequential indices 0, 2, 4, 6 as in the authors' code)
    gives B×k²×H×W tap weights shared by all input channels; the output is
    ``y_m(p) = Σ_{n,j} weight[m,n,j] · a_j(p) · x_n(p+δ_j)`` (zero padding k // 2, no bias), computed by
    :func:`rsmif_core.ops.attention.dynamic_conv2d` without the authors' channel-repeated attention map.
    """

    def __init__(self, in_planes: int, out_planes: int, kernel_att: int = 7, kernel_conv: int = 3,
                 heads: int = 3, recursions: int = 4, attention_impl: str = "auto") -> None:
        super().__init__()
        if recursions < 1:
            raise ValueError(f"RSAM: recursions must be at least 1, found {recursions}")
        if kernel_conv % 2 == 0:
            raise ValueError(f"RSAM: kernel_conv must be odd (same-size output), found {kernel_conv}")
        taps = kernel_conv * kernel_conv
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.kernel_conv = kernel_conv
        layers: list[nn.Module] = []
        for i in range(recursions):
            layers.append(SA(in_planes if i == 0 else taps, taps, kernel_att, heads, attention_impl))
            layers.append(nn.ReLU(inplace=True) if i < recursions - 1 else nn.Sigmoid())
        self.attention1 = nn.Sequential(*layers)
        self.weight = nn.Parameter(torch.empty(out_planes, in_planes, kernel_conv, kernel_conv))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # what the authors' throw-away Conv2d does

    def forward(self, x: Tensor) -> Tensor:
        return dynamic_conv2d(x, self.attention1(x), self.weight, padding=self.kernel_conv // 2)


class RSARB(nn.Module):
    """Residual block: RSAM → ReLU → RSAM, plus the input."""

    def __init__(self, planes: int, kernel_att: int = 7, kernel_conv: int = 3, heads: int = 3, recursions: int = 4,
                 attention_impl: str = "auto") -> None:
        super().__init__()
        self.conv1 = RSAM(planes, planes, kernel_att, kernel_conv, heads, recursions, attention_impl)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = RSAM(planes, planes, kernel_att, kernel_conv, heads, recursions, attention_impl)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.relu1(self.conv1(x)))
