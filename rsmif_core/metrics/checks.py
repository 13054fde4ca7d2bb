"""Input checks and the border-cut / clipping options shared by every index."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rsmif_core.errors import UsageError
from rsmif_core.types import shape_text

PROTOCOLS: tuple[str, ...] = ("toolbox", "authors")
ClipSpec = float | Sequence[float] | None


class MetricInputError(UsageError):
    """Inputs a quality index cannot be computed on (shapes, bands, sizes, dtypes)."""


def as_image(x: object, name: str) -> Tensor:
    """Validate a B×C×H×W tensor and return it as float64 (integer tensors are converted, values kept)."""
    if not isinstance(x, Tensor):
        raise MetricInputError(f"{name}: expected a torch.Tensor B×C×H×W, found {type(x).__name__}")
    if x.ndim != 4:
        raise MetricInputError(f"{name}: expected 4 dimensions B×C×H×W, found shape {shape_text(x)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise MetricInputError(f"{name}: expected real numbers, found {x.dtype}")
    if min(x.shape) == 0:
        raise MetricInputError(f"{name}: empty tensor of shape {shape_text(x)}")
    return x.to(torch.float64)


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise MetricInputError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    return protocol


def pair(fused: object, reference: object) -> tuple[Tensor, Tensor]:
    """Two images of identical shape, as float64."""
    f = as_image(fused, "fused")
    r = as_image(reference, "reference")
    if f.shape != r.shape:
        what = "bands" if f.shape[1] != r.shape[1] else "shape"
        raise MetricInputError(f"fused and reference differ in {what}: fused {shape_text(f)}, reference {shape_text(r)}")
    if f.device != r.device:
        raise MetricInputError(f"fused is on {f.device} but reference on {r.device}")
    return f, r


def cut_border(x: Tensor, border: int) -> Tensor:
    """The toolbox's ``I(dim_cut:end-dim_cut, dim_cut:end-dim_cut, :)`` with ``dim_cut = border``.

    In 0-based terms rows ``border-1 .. H-border-1`` are kept: ``border-1`` pixels are cut at the top and
    left and ``border`` at the bottom and right (256 -> 215 for 21). This asymmetry is the toolbox's,
    kept so ``border=21`` reproduces the published benchmark numbers. ``border=0`` keeps everything.
    """
    if int(border) != border or border < 0:
        raise MetricInputError(f"border must be a non-negative integer, found {border!r}")
    border = int(border)
    if border == 0:
        return x
    h, w = x.shape[-2:]
    if h - 2 * border + 1 < 1 or w - 2 * border + 1 < 1:
        raise MetricInputError(f"border {border} leaves nothing of a {h}×{w} image")
    return x[..., border - 1 : h - border, border - 1 : w - border]


def clip_range(clip: ClipSpec) -> tuple[float, float] | None:
    """``clip=None`` (no clipping), an upper bound ``hi`` (range [0, hi]) or a pair ``(lo, hi)``."""
    if clip is None or clip is False:
        return None
    if clip is True:
        raise MetricInputError("clip=True needs a value range here: pass clip=2048 (toolbox 2^L for L=11) or (lo, hi)")
    if isinstance(clip, (int, float)):
        return 0.0, float(clip)
    bounds = tuple(float(c) for c in clip)
    if len(bounds) != 2 or bounds[0] >= bounds[1]:
        raise MetricInputError(f"clip must be an upper bound or a (lo, hi) pair with lo < hi, found {clip!r}")
    return bounds[0], bounds[1]


def apply_clip(fused: Tensor, clip: ClipSpec) -> Tensor:
    """Clip the fused image like the toolbox's ``th_values`` (values above ``hi`` -> ``hi``, below ``lo`` -> ``lo``)."""
    bounds = clip_range(clip)
    if bounds is None:
        return fused
    return fused.clamp(bounds[0], bounds[1])


def check_block(h: int, w: int, block_size: int, what: str) -> None:
    if int(block_size) != block_size or block_size < 1:
        raise MetricInputError(f"{what}: block_size must be a positive integer, found {block_size!r}")
    if h < block_size or w < block_size:
        raise MetricInputError(f"{what}: the image ({h}×{w}) is smaller than the block size {block_size}")


def check_multiple(h: int, w: int, block_size: int, what: str) -> None:
    check_block(h, w, block_size, what)
    if h % block_size or w % block_size:
        raise MetricInputError(
            f"{what}: the image size {h}×{w} must be a multiple of the block size {block_size} (as in the toolbox)"
        )


def check_ratio(ratio: int, what: str) -> int:
    if int(ratio) != ratio or ratio < 1:
        raise MetricInputError(f"{what}: ratio must be a positive integer, found {ratio!r}")
    return int(ratio)
