"""Synthetic scenes for every task, generated in code (no download, deterministic under a seed).

A scene is a linear mixture of a few materials: abundance maps from multi-scale smooth noise with sharp
field/building-like boundaries, smooth reflectance spectra per material, and a shading field. The guide
is computed from the high-resolution spectral image through a known spectral response (PAN: a broad
response over the bands; RGB: three Gaussian responses), so guide and spectral image agree the way real
sensors do; the low-resolution spectral image is the MTF-degraded high-resolution one (generic Nyquist
gain 0.3). For SAR-optical, S1 backscatter (dB, with speckle) depends on the materials and on the shading,
and the cloudy S2 is the clear one under a smooth, partly opaque cloud field with a thin haze.
"""

from __future__ import annotations

import numpy as np

# Sentinel-2 band centres (nm), L1C order B1 … B12 incl. B8A and B10.
S2_WAVELENGTHS = (443, 490, 560, 665, 705, 740, 783, 842, 865, 945, 1375, 1610, 2190)


def band_wavelengths(bands: int, lo: float = 400.0, hi: float = 1000.0) -> tuple[float, ...]:
    return tuple(float(w) for w in np.linspace(lo, hi, bands))


def _smooth_field(rng: np.random.Generator, size: int, scales: tuple[float, ...]) -> np.ndarray:
    from scipy import ndimage

    field = np.zeros((size, size))
    for i, sigma in enumerate(scales):
        field += ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap") * (1.5**i)
    field -= field.mean()
    return field / (field.std() + 1e-12)


def abundances(rng: np.random.Generator, size: int, materials: int) -> np.ndarray:
    """materials×H×W maps summing to 1: mostly pure regions with sharp edges, mixed at the borders."""
    logits = np.stack([_smooth_field(rng, size, (2.0, 6.0, 16.0)) for _ in range(materials)])
    # rectangles ("fields" and "buildings") add straight edges and corners
    for _ in range(size // 8):
        m = int(rng.integers(materials))
        h, w = (int(v) for v in rng.integers(3, max(4, size // 6), size=2))
        top, left = (int(v) for v in rng.integers(0, size - min(h, w), size=2))
        logits[m, top : top + h, left : left + w] += 4.0
    sharp = np.exp(4.0 * (logits - logits.max(axis=0, keepdims=True)))
    return sharp / sharp.sum(axis=0, keepdims=True)


def spectra(rng: np.random.Generator, wavelengths: tuple[float, ...], materials: int) -> np.ndarray:
    """materials×bands smooth reflectance curves in [0.03, 0.9] (vegetation-like red edge for one)."""
    wl = np.asarray(wavelengths, dtype=np.float64)
    span = wl.max() - wl.min() + 1e-9
    out = np.empty((materials, wl.size))
    for m in range(materials):
        curve = 0.15 + 0.25 * rng.random() + 0.2 * rng.standard_normal() * (wl - wl.min()) / span
        for _ in range(3):
            centre = wl.min() + rng.random() * span
            curve += 0.2 * rng.standard_normal() * np.exp(-0.5 * ((wl - centre) / (0.1 * span + 20)) ** 2)
        if m == 0:  # vegetation: low visible, high near infrared
            curve = 0.05 + 0.45 / (1 + np.exp(-(wl - 715.0) / 15.0))
        out[m] = curve
    return np.clip(out, 0.03, 0.9)


def spectral_image(rng: np.random.Generator, size: int, wavelengths: tuple[float, ...], materials: int = 6,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(bands×H×W reflectance in [0, 1], H×W shading field)."""
    a = abundances(rng, size, materials)
    s = spectra(rng, wavelengths, materials)
    shading = 1.0 + 0.15 * _smooth_field(rng, size, (1.0, 4.0))
    image = np.einsum("mb,mhw->bhw", s, a) * shading[None]
    noise = 0.004 * rng.standard_normal(image.shape)
    return np.clip(image + noise, 0.0, 1.0), shading


def pan_response(wavelengths: tuple[float, ...], lo: float = 450.0, hi: float = 900.0) -> np.ndarray:
    """Normalised weights of a broad PAN response (bands inside [lo, hi] nm, soft edges)."""
    wl = np.asarray(wavelengths, dtype=np.float64)
    w = 1 / (1 + np.exp(-(wl - lo) / 15.0)) * 1 / (1 + np.exp((wl - hi) / 15.0))
    if w.sum() <= 1e-9:
        w = np.ones_like(wl)
    return w / w.sum()


def rgb_response(wavelengths: tuple[float, ...]) -> np.ndarray:
    """3×bands Gaussian responses centred at 610, 540 and 465 nm (R, G, B), each normalised."""
    wl = np.asarray(wavelengths, dtype=np.float64)
    rows = [np.exp(-0.5 * ((wl - c) / 35.0) ** 2) for c in (610.0, 540.0, 465.0)]
    out = np.stack(rows)
    out[out.sum(axis=1) < 1e-9] = 1.0
    return out / out.sum(axis=1, keepdims=True)


def guide_image(image: np.ndarray, wavelengths: tuple[float, ...], kind: str, rng: np.random.Generator) -> np.ndarray:
    response = pan_response(wavelengths)[None] if kind == "pan" else rgb_response(wavelengths)
    guide = np.einsum("gb,bhw->ghw", response, image)
    return np.clip(guide + 0.003 * rng.standard_normal(guide.shape), 0.0, 1.0)


def degrade(image: np.ndarray, ratio: int) -> np.ndarray:
    """MTF-degraded, decimated copy (generic Nyquist gain) through the shared ``rsmif_core.ops.mtf``."""
    import torch

    from rsmif_core.ops.mtf import mtf_degrade

    if ratio == 1:
        return image.copy()
    return mtf_degrade(torch.from_numpy(image)[None], "none", ratio)[0].numpy()


def fusion_scene(size: int, bands: int, guide: str, ratio: int, seed: int,
                 wavelengths: tuple[float, ...] | None = None) -> dict[str, np.ndarray]:
    """A reduced-resolution scene with reference, in [0, 1]: gt bands×S×S, ms bands×S/r×S/r, pan/guide."""
    rng = np.random.default_rng(seed)
    wl = wavelengths or (band_wavelengths(bands, 400.0, 700.0) if guide == "rgb" else band_wavelengths(bands))
    gt, _ = spectral_image(rng, size, wl)
    return {"gt": gt, "ms": np.clip(degrade(gt, ratio), 0.0, 1.0), "pan": guide_image(gt, wl, guide, rng)}


def sar_optical_scene(size: int, seed: int) -> dict[str, np.ndarray]:
    """S1 (2×S×S, dB), clear and cloudy S2 (13×S×S, reflectance × 10000) on one 10 m grid."""
    rng = np.random.default_rng(seed)
    materials = 6
    a = abundances(rng, size, materials)
    s = spectra(rng, S2_WAVELENGTHS, materials)
    shading = 1.0 + 0.15 * _smooth_field(rng, size, (1.0, 4.0))
    clear = np.einsum("mb,mhw->bhw", s, a) * shading[None]
    clear[10] *= 0.05  # B10 (cirrus, 1375 nm) sees almost nothing of the ground
    clear = np.clip(clear + 0.003 * rng.standard_normal(clear.shape), 0.0, 1.0)
    # backscatter: a level per material and polarisation, brighter on slopes facing the sensor, with speckle
    levels = rng.uniform([-16.0, -24.0], [-6.0, -13.0], size=(materials, 2))
    sar_db = np.einsum("mp,mhw->phw", levels, a) + 6.0 * (shading[None] - 1.0)
    speckle = rng.gamma(4.0, 1 / 4.0, size=sar_db.shape)  # 4-look intensity speckle
    s1 = sar_db + 10.0 * np.log10(speckle)
    cover = _smooth_field(rng, size, (4.0, 12.0, 24.0))
    alpha = np.clip((cover - 0.2) / 1.2, 0.0, 0.95)[None]
    cloud = np.linspace(0.75, 0.55, len(S2_WAVELENGTHS))[:, None, None] * (1 + 0.1 * cover[None])
    haze = 0.03
    cloudy = np.clip((1 - alpha) * clear + alpha * cloud + haze, 0.0, 1.0)
    return {"s1": s1.astype(np.float32), "s2": clear * 10000.0, "s2_cloudy": cloudy * 10000.0}
