"""FE-HPM: high-pass modulation with a PAN low-pass filter estimated from the data (``FE-HPM/FE.m``, ``FE_HPM.m``)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

import rsmif_core
from rsmif_classical.base import ClassicalModel
from rsmif_classical.common import EPS, Scene, combine, equalize, regress_image, std2, upsample, with_ones
from rsmif_classical.wavelet import atrous_lowpass

# vertical and horizontal derivative kernels of FE.m
_DERIVATIVES: dict[str, tuple[list[list[float]], list[list[float]]]] = {
    "Naive2": ([[-1.0], [1.0]], [[-1.0, 1.0]]),
    "Naive3": ([[-1.0], [0.0], [1.0]], [[-1.0, 0.0, 1.0]]),
    "Basic": ([[-1.0, -1.0], [1.0, 1.0]], [[-1.0, 1.0], [-1.0, 1.0]]),
    "Prewitt": ([[-1.0, -1.0, -1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]]),
    "Sobel": ([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]], [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]),
}


def edgetaper(x: Tensor, size: int) -> Tensor:
    """MATLAB ``edgetaper(x, ones(size)/size²)`` of B×1×H×W ``x``: blend with its circular blur near the
    borders, weights from the PSF projections' autocorrelation, result bounded to each image's range."""
    h, w = x.shape[-2:]
    if h <= 2 * size or w <= 2 * size:
        raise ValueError(f"FE-HPM: edge tapering with a {size}×{size} PSF needs images larger than {2 * size} pixels a side, found {h}×{w}")

    def beta(n: int) -> Tensor:
        projection = torch.full((size,), 1.0 / size, dtype=x.dtype, device=x.device)
        z = torch.fft.ifft(torch.fft.fft(projection, n=n - 1).abs() ** 2).real
        z = torch.cat([z, z[:1]])
        return z / z.max()

    alpha = (1 - beta(h))[:, None] * (1 - beta(w))[None, :]
    psf = torch.zeros(h, w, dtype=x.dtype, device=x.device)
    psf[:size, :size] = 1.0 / (size * size)
    otf = torch.fft.fft2(torch.roll(psf, shifts=(-(size // 2), -(size // 2)), dims=(0, 1)))
    blurred = torch.fft.ifft2(torch.fft.fft2(x) * otf).real
    tapered = alpha * x + (1 - alpha) * blurred
    return torch.minimum(torch.maximum(tapered, x.amin(dim=(-2, -1), keepdim=True)), x.amax(dim=(-2, -1), keepdim=True))


def _filter(x: Tensor, kernel: Tensor) -> Tensor:
    """``imfilter(x, kernel, 'replicate')`` of every band of one image (B = 1), any kernel side."""
    side = kernel.shape[-1]
    if side % 2 == 0:  # MATLAB's centre of an even kernel is side/2 (1-based): pad a zero row and column in front
        kernel = torch.nn.functional.pad(kernel, (1, 0, 1, 0))
    return rsmif_core.filter_replicate(x, kernel.expand(x.shape[1], -1, -1))


class FEHPM(ClassicalModel):
    """FE-HPM: high-pass modulation with the PAN low-pass filter estimated by regularised deconvolution
    (toolbox ``FE-HPM/FE_HPM.m`` and ``FE.m``, benchmark parameters).

    G. Vivone, M. Simões, M. Dalla Mura, R. Restaino, J. M. Bioucas-Dias, G. A. Licciardi, J. Chanussot,
    "Pansharpening based on semiblind deconvolution", IEEE TGRS, 53(4):1997-2010, 2015.

    ``tap`` is the filter support (the benchmark passes ``max(tap, 3·ratio)``), ``lambda_`` and ``mu`` weight
    the energy and derivative regularisers, ``threshold`` zeroes small filter values, ``iterations`` is the
    number of estimation rounds (at least 3, as the benchmark passes ``max(iterations, 3)``), ``derivative``
    the derivative kernels ('Basic', 'Naive2', 'Naive3', 'Prewitt', 'Sobel').
    """

    derivatives: ClassVar[tuple[str, ...]] = tuple(_DERIVATIVES)

    def __init__(
        self,
        spectral_bands: int,
        guide_bands: int,
        ratio: int,
        *,
        tap: int = 25,
        lambda_: float = 1e5,
        mu: float = 1e5,
        threshold: float = 1e-3,
        iterations: int = 5,
        derivative: str = "Basic",
        clip: bool = False,
    ) -> None:
        super().__init__(spectral_bands, guide_bands, ratio, clip=clip)
        if derivative not in _DERIVATIVES:
            raise ValueError(f"FEHPM: unknown derivative {derivative!r}; expected one of {', '.join(_DERIVATIVES)}")
        if tap < 1 or iterations < 1:
            raise ValueError(f"FEHPM: tap and iterations must be positive, found tap={tap}, iterations={iterations}")
        self.tap = max(int(tap), 3 * ratio)
        self.lambda_ = float(lambda_)
        self.mu = float(mu)
        self.threshold = float(threshold)
        self.iterations = max(int(iterations), 3)
        self.derivative = derivative

    def estimate_filter(self, lms: Tensor, pan: Tensor, ratio: int) -> Tensor:
        """``FE``: the tap×tap PAN low-pass filter of one image (lms 1×C×H×W, pan 1×1×H×W on the DN scale)."""
        h, w = pan.shape[-2:]
        half, odd = self.tap // 2, self.tap % 2
        gv, gh = (torch.tensor(k, dtype=pan.dtype, device=pan.device) for k in _DERIVATIVES[self.derivative])
        gradient_energy = torch.fft.fft2(gv, s=(h, w)).abs() ** 2 + torch.fft.fft2(gh, s=(h, w)).abs() ** 2
        design = with_ones(lms)
        pan_e = pan
        psf_cut = None
        for _ in range(self.iterations):
            pan_lp = atrous_lowpass(pan_e, ratio) if psf_cut is None else _filter(pan_e, psf_cut)
            intensity = combine(design, regress_image(design, pan_lp))
            pan_e = edgetaper(pan_e, half)
            intensity = edgetaper(intensity, half)
            spectrum = torch.fft.fft2(pan_e[0, 0])
            psf = torch.fft.fftshift(
                torch.fft.ifft2(
                    spectrum.conj() * torch.fft.fft2(intensity[0, 0])
                    / (spectrum.abs() ** 2 + self.lambda_ + self.mu * gradient_energy)
                ).real
            )
            psf = torch.where(psf < self.threshold, 0.0, psf)
            if not bool((psf > 0).any()):
                raise ValueError(
                    f"FE-HPM: every value of the estimated filter is below the threshold {self.threshold}: the "
                    f"regularisation (lambda_={self.lambda_}, mu={self.mu}) is set for data on its DN scale; is "
                    "batch.meta.max_value the radiometric scale of the data (e.g. 2047 for 11-bit)?"
                )
            peak = int(psf.T.flatten().argmax())  # MATLAB's first maximum in column order
            row, col = peak % h, peak // h
            if row - half < 0 or col - half < 0 or row + half + odd > h or col + half + odd > w:
                raise ValueError(
                    f"FE-HPM: the estimated filter peaks at ({row}, {col}), too close to the border of a {h}×{w} "
                    f"image for a {self.tap}-tap support (the toolbox indexes outside the array there)"
                )
            psf_cut = psf[row - half : row + half + odd, col - half : col + half + odd]
            psf_cut = psf_cut / psf_cut.sum()
        assert psf_cut is not None
        return psf_cut

    def fuse(self, scene: Scene) -> Tensor:
        lms, pan, ratio = scene.lms, scene.pan, scene.ratio
        pan_eq = equalize(pan, lms, std2(pan))
        fused = []
        for i in range(lms.shape[0]):
            psf = self.estimate_filter(lms[i : i + 1], pan[i : i + 1], ratio)
            low = upsample(rsmif_core.decimate(_filter(pan_eq[i : i + 1], psf), ratio), ratio)
            fused.append(lms[i : i + 1] * (pan_eq[i : i + 1] / (low + EPS)))
        return torch.cat(fused)
