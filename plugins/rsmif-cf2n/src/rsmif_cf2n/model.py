"""CF2N (Liu et al., Geo-spatial Information Science 2024), rebuilt from the paper's framework figure.

``fused = lms + κ_n(F)``, where F comes from:

1. Head RBs on the guide P (PAN, SAR or RGB) and on the upsampled spectral image M↑ (``lms``);
2. FD2R: DWT, per-sub-band AWF, hierarchical reconstruction, IWT -> detail image D (B bands);
   ``Encode`` (3×3 conv + LReLU) -> F_in^c; the MS head feature is F_in^s;
3. n × (FSCFM, then an MDI block of m iterations): the FSCFM cross-fuses frequency and spectral features,
   the MDI injects the PAN's high frequencies into the result, which becomes the next F_in^c.

Only ``pan`` and ``lms`` are used (the authors' test solver calls ``model(pan, lms)``), so every ratio
works, including 1 (SAR-optical: lms = ms on the guide grid). No fixed band count, ratio or image size;
odd sizes are padded inside FD2R (see :mod:`rsmif_cf2n.fd2r`).
"""

from __future__ import annotations

from torch import nn

from rsmif_cf2n.blocks import LEAKY_SLOPE, RB, conv
from rsmif_cf2n.fd2r import FD2R
from rsmif_cf2n.fscfm import FSCFM
from rsmif_cf2n.mdi import MDI, InjectionGain
from rsmif_core import Batch, FusionModel, FusionOutput


class CF2N(FusionModel):
    """CF2N: frequency-spectral dual-domain cross fusion with fine-grained detail reconstruction.

    Hyper-parameters (the paper leaves them open; defaults put the WV3 model at 550,166 parameters,
    between MMAPP's published 0.41 M and RAMSF's 0.67 M, as the collection ranks them):

    * ``channels`` (C, default 32): feature width everywhere;
    * ``kernel_size`` (k, default 3): size of the dynamic kernels κ_ς, κ'_ς, κ_1 (odd);
    * ``stages`` (n, default 2): number of FSCFM (+ MDI) stages;
    * ``mdi_iterations`` (m, default 1): iterations of each MDI block (shared weights: m costs time, no
      parameters; the n stages already alternate FSCFM and MDI, so the optimisation iterates n times);
    * ``awf_reduction`` (default 4): channel reduction of the AWF weight heads;
    * ``lowpass_size`` (default 3): window of the parameter-free HF/LF split.
    """

    receptive_field = None  # global average pooling (AWF, FSCFM kernels, injection gain): no margin is enough
    tile_alignment = 2  # one Haar level on the guide grid (FD2R)

    def __init__(
        self,
        spectral_bands: int,
        guide_bands: int,
        ratio: int,
        channels: int = 32,
        kernel_size: int = 3,
        stages: int = 2,
        mdi_iterations: int = 1,
        awf_reduction: int = 4,
        lowpass_size: int = 3,
    ) -> None:
        super().__init__(spectral_bands, guide_bands, ratio)
        for name, value in (("channels", channels), ("stages", stages), ("awf_reduction", awf_reduction)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"CF2N: {name} must be a positive integer, found {value!r}")
        if lowpass_size < 1 or lowpass_size % 2 == 0:
            raise ValueError(f"CF2N: lowpass_size must be a positive odd integer, found {lowpass_size!r}")
        self.head_pan = RB(guide_bands, channels)
        self.head_ms = RB(spectral_bands, channels)
        self.fd2r = FD2R(channels, spectral_bands, awf_reduction)
        self.encode = nn.Sequential(conv(spectral_bands, channels), nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        self.fscfm = nn.ModuleList(FSCFM(channels, kernel_size, awf_reduction, lowpass_size) for _ in range(stages))
        self.mdi = nn.ModuleList(MDI(channels, mdi_iterations, awf_reduction, lowpass_size) for _ in range(stages))
        self.injection = InjectionGain(channels, spectral_bands)

    def forward(self, batch: Batch) -> FusionOutput:
        pan, lms = batch.pan, batch.lms
        if pan.shape[1] != self.guide_bands or lms.shape[1] != self.spectral_bands:
            raise ValueError(
                f"CF2N was built for {self.guide_bands} guide and {self.spectral_bands} spectral bands; "
                f"the batch has pan with {pan.shape[1]} and lms with {lms.shape[1]} bands"
            )
        pan_features = self.head_pan(pan)
        spectral = self.head_ms(lms)  # F_in^s
        detail = self.fd2r(pan_features, spectral)  # D, B×H×W
        features = self.encode(detail)  # F_in^c
        for fscfm, mdi in zip(self.fscfm, self.mdi):
            _, out = fscfm(features, spectral)
            features = mdi(out, pan_features)
        return FusionOutput(fused=(lms + self.injection(features)).contiguous())  # NCHW, whatever the layout inside
