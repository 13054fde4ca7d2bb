"""Component substitution: BT-H, GS, GSA and PRACS of the benchmark toolbox (``BT-H/``, ``GS/``, ``PRACS/``)."""

from __future__ import annotations

import torch
from torch import Tensor

import rsmif_core
from rsmif_classical.base import ClassicalModel
from rsmif_classical.common import (
    EPS,
    Scene,
    combine,
    corr2,
    cov2,
    lstsq,
    mean2,
    pixels,
    prctile,
    regress_image,
    std2,
    with_ones,
)
from rsmif_classical.wavelet import atrous_lowpass

# BT-H haze fractions of the 1st percentile for B, G, R, NIR (BroveyRegHazeMin.m)
_HAZE_FRACTIONS = (0.95, 0.45, 0.40, 0.05)


def gram_schmidt_injection(lms: Tensor, intensity0: Tensor, detail_pan: Tensor) -> Tensor:
    """The GS / GSA fusion: ``lms0_b + (P - I0) · cov(I0, lms0_b) / var(I0)``, then each band's mean set to lms's."""
    lms0 = lms - mean2(lms)
    gains = cov2(intensity0, lms0) / cov2(intensity0, intensity0)
    fused = lms0 + (detail_pan - intensity0) * gains
    return fused - mean2(fused) + mean2(lms)


class BTH(ClassicalModel):
    """BT-H: Brovey transform with haze correction (toolbox ``BroveyRegHazeMin.m``).

    S. Lolli, L. Alparone, A. Garzelli, G. Vivone, "Haze correction for contrast-based multispectral
    pansharpening", IEEE Geoscience and Remote Sensing Letters, 14(12):2255-2259, 2017.

    The haze of a 4-band image (B, G, R, NIR) is 0.95, 0.45, 0.40, 0.05 times each band's 1st percentile;
    of any other band count, each band's minimum. The intensity is the regression of the Gaussian
    low-passed PAN (``LPfilterGauss``) on the dehazed bands.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan = scene.lms, scene.pan
        if scene.bands == 4:
            haze = prctile(lms, 1.0) * torch.tensor(_HAZE_FRACTIONS, dtype=lms.dtype, device=lms.device)[:, None, None]
        else:
            haze = lms.amin(dim=(-2, -1), keepdim=True)
        pan_lp = rsmif_core.lp_filter_gauss(pan, scene.ratio)
        weights = regress_image(lms, pan_lp)
        intensity = combine(lms - haze, weights)
        pan_eq = (pan - mean2(pan_lp)) * (std2(intensity) / std2(pan_lp)) + mean2(intensity)
        return (lms - haze).clamp(min=0.0) * (pan_eq / (intensity + EPS)) + haze


class GS(ClassicalModel):
    """GS: Gram-Schmidt spectral sharpening, intensity = band mean (toolbox ``GS/GS.m``).

    C. A. Laben, B. V. Brower, "Process for enhancing the spatial resolution of multispectral imagery using
    pan-sharpening", US Patent 6,011,875 (Eastman Kodak), 2000; as in G. Vivone et al., "A critical
    comparison among pansharpening algorithms", IEEE TGRS, 53(5):2565-2586, 2015.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan = scene.lms, scene.pan
        intensity = lms.mean(dim=1, keepdim=True)
        intensity0 = intensity - mean2(intensity)
        pan_eq = (pan - mean2(pan)) * (std2(intensity0) / std2(pan)) + mean2(intensity0)
        return gram_schmidt_injection(lms, intensity0, pan_eq)


class GSA(ClassicalModel):
    """GSA: Gram-Schmidt adaptive, intensity by regression at reduced scale (toolbox ``GS/GSA.m``).

    B. Aiazzi, S. Baronti, M. Selva, "Improving component substitution pansharpening through multivariate
    regression of MS+Pan data", IEEE TGRS, 45(10):3230-3239, 2007.

    The weights regress the à trous low-passed, decimated PAN (``LPfilterPlusDec``) on the original
    low-resolution MS (``batch.ms``) plus a constant.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan, ms = scene.lms, scene.pan, scene.ms
        pan0 = pan - mean2(pan)
        pan_lr = rsmif_core.decimate(atrous_lowpass(pan0, scene.ratio), scene.ratio)
        weights = regress_image(with_ones(ms - mean2(ms)), pan_lr)
        intensity = combine(with_ones(lms - mean2(lms)), weights)
        return gram_schmidt_injection(lms, intensity - mean2(intensity), pan0)


class PRACS(ClassicalModel):
    """PRACS: partial replacement adaptive component substitution (toolbox ``PRACS/PRACS.m``).

    J. Choi, K. Yu, Y. Kim, "A new adaptive component-substitution-based satellite image fusion by using
    partial replacement", IEEE TGRS, 49(1):295-309, 2011.

    ``beta`` is the toolbox's detail weight: 0.95 (its default, "for 11-bit data"); its comment suggests
    1.95 for 8-bit data.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, beta: float = 0.95, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)
        self.beta = float(beta)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan, ratio = scene.lms, scene.pan, scene.ratio

        def low(x: Tensor) -> Tensor:
            return rsmif_core.imresize(rsmif_core.imresize(x, 1.0 / ratio), float(ratio))

        # histogram-matched MS bands, negative values set to 0
        matched = ((lms - mean2(lms) + mean2(pan) / std2(pan) * std2(lms)) * std2(pan) / std2(lms)).clamp(min=0.0)
        design = with_ones(matched)
        intensity = combine(design, regress_image(design, low(pan)))
        cc = corr2(intensity, matched)
        partial = cc * pan + (1 - cc) * matched
        coefficients = lstsq(pixels(design), pixels(low(partial)))  # B×(C+1)×C: one regression per band
        intensity_k = torch.einsum("bkhw,bkc->bchw", design, coefficients)
        delta = partial - intensity_k - (mean2(partial) - mean2(intensity_k))
        mean_std = std2(lms).mean(dim=1, keepdim=True)
        weights = self.beta * corr2(intensity_k, lms) * std2(lms) / mean_std
        local = 1 - (1 - corr2(intensity, lms) * lms / intensity_k).abs()
        return lms + weights * local * delta
