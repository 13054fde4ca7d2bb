"""FSCFM: the frequency-spectral cross fusion module (second stage of CF2N, repeated n times).

Figure: FDA turns the frequency features F_in^c into κ_ς ∈ R^{k×k×1}; SDA turns the spectral features
F_in^s into κ_s ∈ R^{1×1×C}; κ_{ς,s} = κ_ς ⊙ κ_s convolves F_in^c -> F_mid; FSM turns F_mid into
κ'_ς ∈ R^{k×k×C}; κ_1 = κ'_ς ⊙ κ_s convolves F_mid -> F_out.

Choices where the figure is silent (the authors' related AEIM modules in MMAPP set the pattern: a
sigmoid per-pixel k×k map shared over channels, a pooled per-sample channel vector):

* κ_ς is per pixel (k² sigmoid weights at every position, shared by the channels);
* κ_s is per sample: SDA's AWF output is average-pooled and passed through a small squeeze-and-excitation
  head with a sigmoid, so it is a bounded channel attention;
* κ'_ς is per sample: a k×k kernel per channel predicted from the pooled FSM features, as a residual around
  the identity kernel so that an untrained FSCFM passes its features through (the module is a product
  of two dynamic convolutions with no skip; this keeps the early product chain well scaled).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rsmif_cf2n.blocks import AWF, LEAKY_SLOPE, RB, conv, split_frequencies
from rsmif_cf2n.dynamic import pixelwise_conv, samplewise_depthwise_conv


class FDA(nn.Module):
    """Frequency domain attention: RB -> HF/LF -> Conv -> Sigmoid -> κ_ς (B×k²×H×W)."""

    def __init__(self, channels: int, kernel_size: int, lowpass_size: int = 3) -> None:
        super().__init__()
        self.lowpass_size = lowpass_size
        self.rb = RB(channels, channels)
        self.kernel = conv(2 * channels, kernel_size * kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        hf, lf = split_frequencies(self.rb(x), self.lowpass_size)
        return torch.sigmoid(self.kernel(torch.cat([hf, lf], dim=1)))


class SDA(nn.Module):
    """Spectral domain attention: Conv -> HF/LF -> AWF -> κ_s (B×C×1×1)."""

    def __init__(self, channels: int, awf_reduction: int = 4, lowpass_size: int = 3) -> None:
        super().__init__()
        self.lowpass_size = lowpass_size
        hidden = max(channels // awf_reduction, 4)
        self.conv = conv(channels, channels)
        self.awf = AWF(channels, kernel_size=1, reduction=awf_reduction)
        self.vector = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        hf, lf = split_frequencies(self.conv(x), self.lowpass_size)
        return self.vector(self.awf(hf, lf))


class FSM(nn.Module):
    """Frequency selection mechanism: F_mid -> κ'_ς (B×C×k×k).

    Two stacked convolutions give a shallow (a) and a deeper (b) view; their concatenation is split into
    HF/LF and a sigmoid turns it into two spatial gates that select, per pixel, how much of b (top path)
    and a (bottom path) passes; an AWF fuses the gated views and a pooled linear head predicts the kernel.
    """

    def __init__(self, channels: int, kernel_size: int, awf_reduction: int = 4, lowpass_size: int = 3) -> None:
        super().__init__()
        self.channels = channels
        self.kernel_size = kernel_size
        self.lowpass_size = lowpass_size
        self.conv_a = conv(channels, channels)
        self.conv_b = conv(channels, channels)
        self.gates = conv(4 * channels, 2)
        self.awf = AWF(channels, reduction=awf_reduction)
        self.kernel = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels * kernel_size**2, 1))
        identity = torch.zeros(kernel_size, kernel_size)
        identity[kernel_size // 2, kernel_size // 2] = 1.0
        self.register_buffer("identity", identity, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        a = self.conv_a(x)
        b = self.conv_b(a)
        hf, lf = split_frequencies(torch.cat([a, b], dim=1), self.lowpass_size)
        gates = torch.sigmoid(self.gates(torch.cat([hf, lf], dim=1)))
        selected = self.awf(b * gates[:, 0:1], a * gates[:, 1:2])
        k = self.kernel_size
        delta = self.kernel(selected).view(x.shape[0], self.channels, k, k)
        return self.identity + delta


class FSCFM(nn.Module):
    """One frequency-spectral cross fusion module: (F_in^c, F_in^s) -> (F_mid, F_out), all B×C×H×W."""

    def __init__(self, channels: int, kernel_size: int = 3, awf_reduction: int = 4, lowpass_size: int = 3) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"FSCFM: kernel_size (k) must be a positive odd integer, found {kernel_size}")
        self.fda = FDA(channels, kernel_size, lowpass_size)
        self.sda = SDA(channels, awf_reduction, lowpass_size)
        self.fsm = FSM(channels, kernel_size, awf_reduction, lowpass_size)

    def forward(self, frequency: Tensor, spectral: Tensor) -> tuple[Tensor, Tensor]:
        kappa_s = self.sda(spectral)  # B×C×1×1
        mid = pixelwise_conv(frequency, self.fda(frequency), kappa_s)  # F_in^c ⊗ (κ_ς ⊙ κ_s)
        kappa_1 = self.fsm(mid) * kappa_s.view(kappa_s.shape[0], -1, 1, 1)  # κ'_ς ⊙ κ_s, B×C×k×k
        return mid, samplewise_depthwise_conv(mid, kappa_1)
