"""MMAPP's building blocks under the paper's names (AEIMs: TSAM, SICM, AFM; ACmix; residual blocks; PS).

Every AEIM is a *dynamic* 3×3 convolution: a bare ``weight`` [out, in, 3, 3] whose nine taps are
re-weighted by an attention branch. Submodule and parameter names equal the authors' so their
weights load unchanged; the computation is reorganised (see each docstring) and gives the same numbers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rsmif_core import (
    PointwiseConv2d,
    dynamic_conv2d,
    local_window_attention,
    pointwise_conv2d,
    position_grid,
)

TAPS = 9  # a 3×3 kernel


def _bare_weight(out_planes: int, in_planes: int) -> nn.Parameter:
    """The authors take ``Conv2d(in, out, 3).weight`` and drop the conv: same default init here."""
    weight = nn.Parameter(torch.empty(out_planes, in_planes, 3, 3))
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    return weight


class ACmix(nn.Module):
    """ACmix (Pan et al., CVPR 2022) as MMAPP uses it: local 7×7 self-attention + shifted-conv path.

    Differences from the authors' ``AttenConvmix.ACmix`` (same parameters, same function):
    q/k/v are one fused 1×1 convolution; the relative positional term is applied to the keys once
    (``q·pe(p)`` is constant over the window and cancels in the softmax); the conv path folds ``fc``
    into ``dep_conv`` (both linear, ``fc`` has no bias) and runs one grouped 3×3 convolution on a
    channel permutation of q/k/v instead of ``fc`` + permute + ``dep_conv``.
    """

    def __init__(self, in_planes: int, out_planes: int, kernel_att: int = 7, head: int = 3, kernel_conv: int = 3) -> None:
        super().__init__()
        if out_planes % head:
            raise ValueError(f"ACmix: out_planes ({out_planes}) must be a multiple of head ({head})")
        self.out_planes, self.head, self.kernel_att, self.kernel_conv = out_planes, head, kernel_att, kernel_conv
        self.head_dim = out_planes // head
        self.rate1 = nn.Parameter(torch.full((1,), 0.5))
        self.rate2 = nn.Parameter(torch.full((1,), 0.5))
        self.conv1 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv2 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv3 = nn.Conv2d(in_planes, out_planes, 1)
        self.conv_p = PointwiseConv2d(2, self.head_dim)
        self.fc = nn.Conv2d(3 * head, kernel_conv * kernel_conv, 1, bias=False)
        self.dep_conv = nn.Conv2d(
            kernel_conv * kernel_conv * self.head_dim, out_planes, kernel_conv,
            padding=kernel_conv // 2, groups=self.head_dim, bias=False,
        )
        with torch.no_grad():  # ACmix's shift kernels (the authors' init_weights later overwrites them)
            shift = torch.zeros(kernel_conv * kernel_conv, kernel_conv, kernel_conv)
            for i in range(kernel_conv * kernel_conv):
                shift[i, i // kernel_conv, i % kernel_conv] = 1
            self.dep_conv.weight.copy_(shift.repeat(out_planes, 1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        c, hd = self.out_planes, self.head_dim
        convs = (self.conv1, self.conv2, self.conv3)
        qkv = pointwise_conv2d(x, torch.cat([c.weight for c in convs]), torch.cat([c.bias for c in convs if c.bias is not None]))
        q, k, v = qkv.split(c, dim=1)
        pe = self.conv_p(position_grid(h, w, device=x.device, dtype=x.dtype))
        out_att = local_window_attention(q, k, v, self.head, self.kernel_att, position=pe)
        # conv path: dep_conv(fc(q,k,v)) as one grouped conv; channel order (head_dim, q/k/v, head)
        kk = self.kernel_conv
        fused = torch.einsum(
            "ojyx,jc->ocyx", self.dep_conv.weight.reshape(c, kk * kk, kk, kk), self.fc.weight.reshape(kk * kk, 3 * self.head)
        )
        grouped = qkv.view(b, 3, self.head, hd, h, w).permute(0, 3, 1, 2, 4, 5).reshape(b, 3 * c, h, w)
        out_conv = F.conv2d(grouped, fused, padding=kk // 2, groups=hd)
        return self.rate1 * out_att + self.rate2 * out_conv


class TSAM(nn.Module):
    """Texture-shrinkage adaptive module (PAN branch): per-pixel tap weights from plain convolutions
    (shared by all input channels) and a per-sample, per-output-channel bias from global pooling.

    Differs from the authors' ``AdaConv.TSAM``: no repeated copies of the tap weights (broadcast
    instead), no ``F.fold`` round trip; same arithmetic.
    """

    def __init__(self, in_planes: int, out_planes: int) -> None:
        super().__init__()
        self.attention1 = nn.Sequential(
            nn.Conv2d(in_planes, TAPS, 3, padding=1),
            nn.ReLU(),
            PointwiseConv2d(TAPS, TAPS),
            nn.ReLU(),
            PointwiseConv2d(TAPS, TAPS),
            nn.Sigmoid(),
        )
        self.attention3 = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            PointwiseConv2d(in_planes, out_planes),
            nn.ReLU(),
            PointwiseConv2d(out_planes, out_planes),
        )
        self.weight = _bare_weight(out_planes, in_planes)

    def forward(self, x: Tensor) -> Tensor:
        return dynamic_conv2d(x, self.attention1(x), self.weight, padding=1) + self.attention3(x)


class SICM(nn.Module):
    """Spectral-information-consistency module (MS branch): one set of nine tap weights per sample
    from global pooling, plus a per-pixel, per-channel bias from plain convolutions.

    Differs from the authors' ``AdaConv.SICM``: per-sample taps are folded into the kernel and run
    as one grouped convolution (no unfolded copy of the input); same arithmetic.
    """

    def __init__(self, in_planes: int, out_planes: int) -> None:
        super().__init__()
        self.attention1 = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            PointwiseConv2d(in_planes, TAPS),
            nn.ReLU(),
            PointwiseConv2d(TAPS, TAPS),
        )
        self.attention3 = nn.Sequential(
            nn.Conv2d(in_planes, out_planes, 3, padding=1),
            nn.ReLU(),
            PointwiseConv2d(out_planes, out_planes),
            nn.ReLU(),
            PointwiseConv2d(out_planes, out_planes),
            nn.Sigmoid(),
        )
        self.weight = _bare_weight(out_planes, in_planes)

    def forward(self, x: Tensor) -> Tensor:
        taps = self.attention1(x).flatten(1)
        return dynamic_conv2d(x, taps, self.weight, padding=1) + self.attention3(x)


class AFM(nn.Module):
    """Adaptive fusion module (fusion branch): per-pixel tap weights from three ACmix layers, scaled
    by per-sample tap ratios from global pooling. MMAPP builds every AFM with ``use_bias=False``, so
    the bias branch (``attention3``) does not exist here either.
    """

    def __init__(self, in_planes: int, out_planes: int) -> None:
        super().__init__()
        self.attention1 = nn.Sequential(
            ACmix(in_planes, TAPS),
            nn.ReLU(),
            ACmix(TAPS, TAPS),
            nn.ReLU(),
            ACmix(TAPS, TAPS),
            nn.Sigmoid(),
        )
        self.attention2 = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            PointwiseConv2d(in_planes, TAPS),
            nn.ReLU(),
            PointwiseConv2d(TAPS, TAPS),
        )
        self.weight = _bare_weight(out_planes, in_planes)

    def forward(self, x: Tensor) -> Tensor:
        taps = self.attention1(x) * self.attention2(x)
        return dynamic_conv2d(x, taps, self.weight, padding=1)


class _ResidualPair(nn.Module):
    """``x + conv2(relu(conv1(x)))`` with two AEIMs of the same width."""

    def __init__(self, module: type[TSAM] | type[SICM] | type[AFM], planes: int) -> None:
        super().__init__()
        self.conv1 = module(planes, planes)
        self.relu1 = nn.ReLU()
        self.conv2 = module(planes, planes)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.relu1(self.conv1(x)))


class SpaARB(_ResidualPair):
    """Spatial adaptive residual block (two TSAMs)."""

    def __init__(self, planes: int) -> None:
        super().__init__(TSAM, planes)


class SpeARB(_ResidualPair):
    """Spectral adaptive residual block (two SICMs)."""

    def __init__(self, planes: int) -> None:
        super().__init__(SICM, planes)


class AFCRB(_ResidualPair):
    """Adaptive fusion residual block (two AFMs)."""

    def __init__(self, planes: int) -> None:
        super().__init__(AFM, planes)


class TSAResBlock(nn.Module):
    """The authors' one-block wrapper (kept for the parameter names ``E*.0.SpaRB1``)."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.SpaRB1 = SpaARB(planes)

    def forward(self, x: Tensor) -> Tensor:
        return self.SpaRB1(x)


class SICResBlock(nn.Module):
    """The authors' one-block wrapper (kept for the parameter names ``E*.0.SpeRB1``)."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.SpeRB1 = SpeARB(planes)

    def forward(self, x: Tensor) -> Tensor:
        return self.SpeRB1(x)


class FACResBlock(nn.Module):
    """Five adaptive fusion residual blocks ``RB1..RB5`` (the authors' FACResBlock / FACResBlock48)."""

    def __init__(self, planes: int, blocks: int = 5) -> None:
        super().__init__()
        for i in range(1, blocks + 1):
            self.add_module(f"RB{i}", AFCRB(planes))

    def forward(self, x: Tensor) -> Tensor:
        for block in self.children():
            x = block(x)
        return x


class PS(nn.Module):
    """3×3 convolution to ``c·up²`` channels + pixel shuffle by ``up`` (``up=1``: just the convolution)."""

    def __init__(self, channels: int, up: int) -> None:
        super().__init__()
        self.up = up
        self.conv_up1 = nn.Conv2d(channels, channels * up * up, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_up1(x)
        return F.pixel_shuffle(x, self.up) if self.up > 1 else x


class PanBranch(nn.Module):
    """PAN branch (``pb``): TSAM features, max-pooled twice; returns the guide, its level-2 and level-1 projections.

    ``pool2`` takes full resolution to level 2, ``pool1`` level 2 to level 1 (2 and 2 for ratio 4).
    """

    def __init__(self, guide_bands: int, side_bands: int, features: int, pool2: int, pool1: int) -> None:
        super().__init__()
        self.head_conv = TSAM(guide_bands, features)
        self.relu1 = nn.ReLU()
        self.E1 = nn.Sequential(TSAResBlock(features))
        self.mp1 = nn.MaxPool2d(pool2) if pool2 > 1 else nn.Identity()
        self.relue1 = nn.ReLU()
        self.conv_d2_out = TSAM(features, side_bands)
        self.mid_conv = TSAM(features, features)
        self.relu2 = nn.ReLU()
        self.E2 = nn.Sequential(TSAResBlock(features))
        self.mp2 = nn.MaxPool2d(pool1) if pool1 > 1 else nn.Identity()
        self.relue2 = nn.ReLU()
        self.conv_d4_out = TSAM(features, side_bands)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        pan = self.relu1(self.head_conv(x))
        pan_e1 = self.relue1(self.E1(pan) + pan)
        pan_d2 = self.mp1(pan_e1)
        pan_d2_out = self.conv_d2_out(pan_d2)
        pan_mid = self.relu2(self.mid_conv(pan_d2))
        pan_e2 = self.relue2(self.E2(pan_mid) + pan_d2)
        pan_d4 = self.mp2(pan_e2)
        return x, pan_d2_out, self.conv_d4_out(pan_d4)


class MSBranch(nn.Module):
    """MS branch (``mb``): SICM features, pixel-shuffled up twice; returns the MS image, its level-2
    projection and its full-resolution estimate ``ms_u4`` (``spectral_bands`` channels, compared with lms).
    """

    def __init__(self, spectral_bands: int, side_bands: int, features: int, up1: int, up2: int) -> None:
        super().__init__()
        self.head_conv = SICM(spectral_bands, features)
        self.relu1 = nn.ReLU()
        self.E1 = nn.Sequential(SICResBlock(features))
        self.up1 = PS(features, up1)
        self.relue1 = nn.ReLU()
        self.conv_u2_out = SICM(features, side_bands)
        self.out_relu = nn.ReLU()
        self.mid_conv = SICM(features, features)
        self.relu2 = nn.ReLU()
        self.E2 = nn.Sequential(SICResBlock(features))
        self.up2 = PS(features, up2)
        self.relue2 = nn.ReLU()
        self.conv_u4_out = SICM(features, spectral_bands)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        ms = self.relu1(self.head_conv(x))
        ms_e1 = self.relue1(self.E1(ms) + ms)
        ms_u2 = self.out_relu(self.up1(ms_e1))
        ms_u2_out = self.conv_u2_out(ms_u2)
        ms_mid = self.relu2(self.mid_conv(ms_u2))
        ms_e2 = self.relue2(self.E2(ms_mid) + ms_u2)
        ms_u4 = self.out_relu(self.up2(ms_e2))
        return x, ms_u2_out, self.conv_u4_out(ms_u4)


def authors_init(module: nn.Module) -> None:
    """The authors' ``init_weights``: every ``nn.Conv2d`` weight truncated normal (±2σ, σ = √(1/fan_in)
    / 0.8796 as their variance-scaling helper), biases zero. Bare AEIM weights keep Conv2d's default.
    This includes ACmix's ``dep_conv``, whose shift-kernel init the authors' call overwrites.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()
            std = math.sqrt(1.0 / max(1.0, fan_in)) / 0.87962566103423978
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
