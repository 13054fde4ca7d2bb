"""Multi-resolution analysis: AWLP, the MTF-GLP family and MF of the benchmark toolbox (``AWLP/``, ``GLP/``, ``MF/``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

import rsmif_core
from rsmif_classical.base import ClassicalModel
from rsmif_classical.common import EPS, Scene, cov2, equalize, glp_lowpass, mean2, std2
from rsmif_classical.wavelet import atrous_lowpass, levels_for


class AWLP(ClassicalModel):
    """AWLP: additive wavelet luminance proportional (toolbox ``AWLP/AWLP.m``).

    X. Otazu, M. González-Audícana, O. Fors, J. Núñez, "Introduction of sensor spectral response into image
    fusion methods. Application to wavelet-based methods", IEEE TGRS, 43(10):2376-2385, 2005; with the
    PAN equalisation of L. Alparone, A. Garzelli, G. Vivone, "Intersensor statistical matching for
    pansharpening: theoretical issues and practical solutions", IEEE TGRS, 55(8):4682-4695, 2017.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan, ratio = scene.lms, scene.pan, scene.ratio
        intensity_ratio = lms / (lms.sum(dim=1, keepdim=True) / scene.bands + EPS)
        pan_low = rsmif_core.imresize(rsmif_core.imresize(pan, 1.0 / ratio), float(ratio))
        pan_eq = equalize(pan, lms, std2(pan_low))
        return (pan_eq - atrous_lowpass(pan_eq, ratio)) * intensity_ratio + lms


def _equalized_pan(scene: Scene) -> Tensor:
    """The PAN matched to each band's mean and standard deviation, the spread measured on its Gaussian
    low-pass (``LPfilterGauss``), as MTF_GLP.m and MTF_GLP_HPM.m do."""
    return equalize(scene.pan, scene.lms, std2(rsmif_core.lp_filter_gauss(scene.pan, scene.ratio)))


class MTFGLP(ClassicalModel):
    """MTF-GLP: generalized Laplacian pyramid with MTF-matched filters, additive injection (toolbox
    ``GLP/MTF_GLP.m``).

    B. Aiazzi, L. Alparone, S. Baronti, A. Garzelli, M. Selva, "MTF-tailored multiscale fusion of
    high-resolution MS and Pan imagery", Photogrammetric Engineering & Remote Sensing, 72(5):591-596, 2006.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        pan_eq = _equalized_pan(scene)
        return scene.lms + pan_eq - glp_lowpass(pan_eq, scene.gains, scene.ratio)


class MTFGLPHPM(ClassicalModel):
    """MTF-GLP-HPM: MTF-GLP with high-pass modulation (toolbox ``GLP/MTF_GLP_HPM.m``).

    B. Aiazzi, L. Alparone, S. Baronti, A. Garzelli, M. Selva, "An MTF-based spectral distortion minimizing
    model for pan-sharpening of very high resolution multispectral images of urban areas", 2nd GRSS/ISPRS
    Joint Workshop on Remote Sensing and Data Fusion over Urban Areas (URBAN 2003), pp. 90-94, 2003.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        pan_eq = _equalized_pan(scene)
        return scene.lms * (pan_eq / (glp_lowpass(pan_eq, scene.gains, scene.ratio) + EPS))


class MTFGLPFS(ClassicalModel):
    """MTF-GLP-FS: MTF-GLP with full-scale regression injection gains (toolbox ``GLP/MTF_GLP_FS.m``).

    G. Vivone, R. Restaino, J. Chanussot, "Full scale regression-based injection coefficients for
    panchromatic sharpening", IEEE Transactions on Image Processing, 27(7):3418-3431, 2018.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan = scene.lms, scene.pan
        pan_low = glp_lowpass(pan.expand_as(lms), scene.gains, scene.ratio)
        gains = cov2(lms, pan) / cov2(pan_low, pan)
        return lms + gains * (pan - pan_low)


class MTFGLPHPMR(ClassicalModel):
    """MTF-GLP-HPM-R: regression-based high-pass modulation, global version (toolbox ``GLP/MTF_GLP_HPM_R.m``).

    G. Vivone, R. Restaino, J. Chanussot, "A regression-based high-pass modulation pansharpening approach",
    IEEE TGRS, 56(2):984-996, 2018.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan = scene.lms, scene.pan
        pan_low = glp_lowpass(pan.expand_as(lms), scene.gains, scene.ratio)
        gain = cov2(lms, pan_low) / cov2(pan_low, pan_low)
        offset = mean2(lms) / gain - mean2(pan)
        return lms * (pan + offset) / (pan_low + offset + EPS)


class MTFGLPCBD(ClassicalModel):
    """MTF-GLP-CBD: MTF-GLP with context-based-decision (regression) injection gains, global version
    (toolbox ``GLP/GS2_GLP.m``, the benchmark's "MTF-GLP-CBD").

    B. Aiazzi, S. Baronti, F. Lotti, M. Selva, "A comparison between global and context-adaptive
    pansharpening of multispectral images", IEEE Geoscience and Remote Sensing Letters, 6(2):302-306, 2009;
    L. Alparone et al., "Comparison of pansharpening algorithms: outcome of the 2006 GRS-S data-fusion
    contest", IEEE TGRS, 45(10):3012-3021, 2007.
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan = scene.lms, scene.pan
        pan_low = glp_lowpass(pan.expand_as(lms), scene.gains, scene.ratio)
        gains = cov2(pan_low, lms) / cov2(pan_low, pan_low)
        return lms + (pan - pan_low) * gains


def _half_gradient_smooth(x: Tensor) -> Tensor:
    """``I - 0.5 · ((I - erode(I)) - (dilate(I) - I))`` with the 3×3 cross, borders ignored (MATLAB pads the
    dilation with -Inf and the erosion with +Inf)."""

    def neighbours(padded: Tensor) -> list[Tensor]:
        h, w = x.shape[-2:]
        return [padded[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]

    dilated = x
    for n in neighbours(F.pad(x, (1, 1, 1, 1), value=float("-inf"))):
        dilated = torch.maximum(dilated, n)
    eroded = x
    for n in neighbours(F.pad(x, (1, 1, 1, 1), value=float("inf"))):
        eroded = torch.minimum(eroded, n)
    return x - 0.5 * ((x - eroded) - (dilated - x))


class MF(ClassicalModel):
    """MF: morphological pyramid with the half-gradient operator, high-pass modulation (toolbox
    ``MF/MF_HG_Pansharpen.m`` and ``MF/Pyr_Dec.m``).

    R. Restaino, G. Vivone, M. Dalla Mura, J. Chanussot, "Fusion of multispectral and panchromatic images
    based on morphological operators", IEEE Transactions on Image Processing, 25(6):2882-2895, 2016.

    Toolbox quirk kept: ``Pyr_Dec`` records each coarser level's size as (rows, rows), so on a non-square
    image the intermediate upsamplings pass through square grids (the final one returns to H×W).
    """

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, *, clip: bool = False) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan = scene.lms, scene.pan
        pan_eq = equalize(pan, lms, std2(pan))
        levels = levels_for(scene.ratio) + 1
        sizes: list[tuple[int, int]] = [(pan_eq.shape[-2], pan_eq.shape[-1])]
        image = pan_eq
        for level in range(1, levels):
            smooth = _half_gradient_smooth(image)
            image = smooth[..., 1::2, 1::2] if level == 1 else smooth[..., ::2, ::2]
            sizes.append((image.shape[-2], image.shape[-2]))
        coarse = image
        for level in range(levels - 1, 0, -1):
            coarse = rsmif_core.imresize(coarse, size=sizes[level - 1], method="bilinear")
        return lms * (pan_eq / (coarse + EPS))
