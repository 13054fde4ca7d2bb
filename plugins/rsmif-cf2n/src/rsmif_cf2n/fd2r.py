"""FD2R: frequency-domain dominated detail reconstruction (first stage of CF2N).

Figure: the head features of P and the upsampled M go through one Haar DWT each; per sub-band
(LL, HL, LH, HH) an AWF fuses the PAN and MS parts into F_xx ∈ R^{H/2×W/2×C}; a hierarchical
reconstruction (HH and LL enter through AWF) and an IWT give the detail image D ∈ R^{H×W×B}.

Choices where the figure is silent:

* hierarchical reconstruction, from the finest to the coarsest band: an RB on ``F_HL + F_LH`` (the two
  directional bands), an AWF adding the diagonal band ``F_HH``, an AWF adding the low band ``F_LL``;
* the IWT needs four sub-band groups and the figure's D has B bands, so a 3×3 convolution maps the
  reconstruction to 4·B channels read as (LL, HL, LH, HH) groups (the authors' RAMSF instead splits its
  64 channels into four groups of 16, which would give D C/4 channels, not B);
* odd heights/widths are replicate-padded by one row/column before the DWT and D is cropped back.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from rsmif_cf2n.blocks import AWF, RB, conv
from rsmif_core import haar_dwt, haar_iwt


class HierarchicalReconstruction(nn.Module):
    """Fuse the four fused sub-bands, finest first, into one half-resolution map of C channels."""

    def __init__(self, channels: int, awf_reduction: int) -> None:
        super().__init__()
        self.rb_directional = RB(channels, channels)
        self.awf_diagonal = AWF(channels, reduction=awf_reduction)
        self.awf_low = AWF(channels, reduction=awf_reduction)

    def forward(self, ll: Tensor, hl: Tensor, lh: Tensor, hh: Tensor) -> Tensor:
        details = self.rb_directional(hl + lh)
        details = self.awf_diagonal(details, hh)
        return self.awf_low(ll, details)


class FD2R(nn.Module):
    """Head features of PAN and MS (C channels each, H×W) -> detail image D (B channels, H×W)."""

    def __init__(self, channels: int, spectral_bands: int, awf_reduction: int = 4) -> None:
        super().__init__()
        self.awf_ll = AWF(channels, reduction=awf_reduction)
        self.awf_hl = AWF(channels, reduction=awf_reduction)
        self.awf_lh = AWF(channels, reduction=awf_reduction)
        self.awf_hh = AWF(channels, reduction=awf_reduction)
        self.reconstruction = HierarchicalReconstruction(channels, awf_reduction)
        self.to_subbands = conv(channels, 4 * spectral_bands)

    def forward(self, pan_features: Tensor, ms_features: Tensor) -> Tensor:
        h, w = pan_features.shape[-2:]
        pad = (0, w % 2, 0, h % 2)
        if any(pad):
            pan_features = F.pad(pan_features, pad, mode="replicate")
            ms_features = F.pad(ms_features, pad, mode="replicate")
        p_ll, p_hl, p_lh, p_hh = haar_dwt(pan_features)
        m_ll, m_hl, m_lh, m_hh = haar_dwt(ms_features)
        fused = self.reconstruction(
            self.awf_ll(p_ll, m_ll),
            self.awf_hl(p_hl, m_hl),
            self.awf_lh(p_lh, m_lh),
            self.awf_hh(p_hh, m_hh),
        )
        detail = haar_iwt(self.to_subbands(fused))
        return detail[..., :h, :w]
