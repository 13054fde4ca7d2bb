"""The MDI block with its iterative optimisation, and the injection gain factor κ_n (CF2N's output).

Figure: "MDI × m": HighPass(P̄) and HighPass(M̄), an RB on each, an AWF, then "Iteratively Optimize"
together with the FSCFM output; the fused image comes from κ_n ⊗ F_mid_n (κ_n: injection gain factor).

Our reading (the figure does not expand the name MDI nor give the update rule):

* P̄ is the PAN head feature (fixed), M̄ the current fused feature F (updated), both C channels;
* one iteration: ``F <- F + AWF(RB_p(HighPass(P̄)), RB_m(HighPass(F)))``. The AWF's "unique" part is then
  literally the high-frequency detail the PAN features have and the fused features still lack;
* "× m": m iterations with shared weights (an unrolled fixed-point refinement), so m costs time, not
  parameters; the PAN branch is computed once per block;
* κ_n: a 3×3 convolution C -> B (the kernel) scaled per sample and band by ``2·sigmoid(·)`` of a pooled
  linear head (an adaptive injection gain, 1 at zero logits), added to the upsampled MS image.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rsmif_cf2n.blocks import AWF, RB, conv, high_pass


class MDI(nn.Module):
    """m iterations of high-frequency detail injection from the PAN features into the fused features."""

    def __init__(self, channels: int, iterations: int = 1, awf_reduction: int = 4, lowpass_size: int = 3) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f"MDI: iterations (m) must be at least 1, found {iterations}")
        self.iterations = iterations
        self.lowpass_size = lowpass_size
        self.rb_pan = RB(channels, channels)
        self.rb_fused = RB(channels, channels)
        self.awf = AWF(channels, reduction=awf_reduction)

    def forward(self, fused: Tensor, pan_features: Tensor) -> Tensor:
        pan_detail = self.rb_pan(high_pass(pan_features, self.lowpass_size))
        for _ in range(self.iterations):
            fused = fused + self.awf(pan_detail, self.rb_fused(high_pass(fused, self.lowpass_size)))
        return fused


class InjectionGain(nn.Module):
    """κ_n: features (C) -> detail to add to the upsampled MS image (B), with an adaptive per-band gain."""

    def __init__(self, channels: int, spectral_bands: int) -> None:
        super().__init__()
        self.kernel = conv(channels, spectral_bands)
        self.gain = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, spectral_bands, 1))

    def forward(self, features: Tensor) -> Tensor:
        return 2 * torch.sigmoid(self.gain(features)) * self.kernel(features)
