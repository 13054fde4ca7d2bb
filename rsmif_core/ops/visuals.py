"""Images for tensorboard: true-colour composites, error maps and feature-map grids (all C×H×W in [0, 1])."""

from __future__ import annotations

import math

import torch
from torch import Tensor

# Zero-based (red, green, blue) band indices in each sensor's band order.
RGB_BANDS: dict[str, tuple[int, int, int]] = {
    "wv3": (4, 2, 1),  # coastal, blue, green, yellow, red, red edge, NIR1, NIR2
    "wv2": (4, 2, 1),  # same 8-band order; 4-band WV2 products fall back to the 4-band rule below
    "qb": (2, 1, 0),  # blue, green, red, NIR
    "gf2": (2, 1, 0),
    "ikonos": (2, 1, 0),
    "wv4": (2, 1, 0),
    "landsat7": (0, 1, 2),  # FuseBox order: R, G, B, NIR, SWIR1, SWIR2
    "s2": (3, 2, 1),  # B1, B2 (blue), B3 (green), B4 (red), …
    "sentinel2": (3, 2, 1),
}


def rgb_bands(sensor: str, bands: int) -> tuple[int, int, int]:
    """The bands shown as red, green and blue for a sensor; a spread over the spectrum when it is unknown.

    Unknown sensors with 4 bands are taken as blue, green, red, NIR (the common MS order); with many
    bands (hyperspectral, ordered by wavelength) bands at about 60 %, 35 % and 10 % of the range.
    """
    known = RGB_BANDS.get(sensor.lower())
    if known is not None and max(known) < bands:
        return known
    if bands >= 8:
        return (4, 2, 1) if bands == 8 else (round(0.6 * (bands - 1)), round(0.35 * (bands - 1)), round(0.1 * (bands - 1)))
    if bands >= 4:
        return (2, 1, 0)
    if bands == 3:
        return (0, 1, 2)
    return (0, 0, 0) if bands == 1 else (1, 0, 0)


def stretch_limits(image: Tensor, low: float = 0.01, high: float = 0.99) -> tuple[Tensor, Tensor]:
    """Per-band percentiles of a C×H×W image, used to stretch all composites of one scene alike."""
    flat = image.detach().float().flatten(1)
    if flat.shape[1] > 65536:  # quantile's input limit; a strided subset is plenty for display limits
        flat = flat[:, :: math.ceil(flat.shape[1] / 65536)]
    lo = torch.quantile(flat, low, dim=1)
    hi = torch.quantile(flat, high, dim=1)
    return lo[:, None, None], torch.maximum(hi[:, None, None], lo[:, None, None] + 1e-6)


def composite(image: Tensor, bands: tuple[int, int, int], limits: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """3×H×W true-colour composite of a C×H×W image, stretched between the given per-band limits."""
    rgb = image.detach().float()[list(bands)]
    lo, hi = limits if limits is not None else stretch_limits(rgb)
    if lo.shape[0] != 3:
        lo, hi = lo[list(bands)], hi[list(bands)]
    return ((rgb - lo) / (hi - lo)).clamp(0, 1).cpu()


def abs_error(fused: Tensor, reference: Tensor) -> Tensor:
    """1×H×W mean absolute error over bands, unscaled."""
    return (fused.detach().float() - reference.detach().float()).abs().mean(0, keepdim=True)


def error_limit(errors: Tensor) -> float:
    """The error shown white: the 99th percentile of ``errors`` (maps compared side by side share one)."""
    flat = errors.detach().float().flatten()
    return float(torch.quantile(flat[:: max(1, math.ceil(flat.numel() / 65536))], 0.99).clamp_min(1e-8))


def error_map(fused: Tensor, reference: Tensor, limit: float | None = None) -> Tensor:
    """1×H×W mean absolute error over bands, scaled so ``limit`` (default: its own 99th percentile) is white."""
    err = abs_error(fused, reference)
    top = error_limit(err) if limit is None else max(limit, 1e-8)
    return (err / top).clamp(0, 1).cpu()


def feature_grid(features: Tensor, max_channels: int = 16) -> Tensor:
    """1×H'×W' grid of the first channels of a C×H×W feature map, each channel min-max normalised."""
    maps = features.detach().float()[:max_channels]
    n = maps.shape[0]
    lo = maps.flatten(1).min(1).values[:, None, None]
    hi = maps.flatten(1).max(1).values[:, None, None]
    maps = (maps - lo) / (hi - lo).clamp_min(1e-8)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    h, w = maps.shape[-2:]
    pad = 2
    grid = torch.ones(1, rows * (h + pad) - pad, cols * (w + pad) - pad)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[0, r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = maps[i].cpu()
    return grid
