"""The Wald protocol on one scene: a full-resolution PAN + MS -> a reduced-resolution pair with reference.

Reduced resolution (with reference): the MS is filtered with the sensor's MTF-matched filter and
decimated by the ratio (``rsmif_core.ops.mtf.mtf_degrade``, the implementation the metrics use); the
PAN likewise with its own MTF filter (``pan_method="mtf"``), or with MATLAB bicubic ``imresize``
(``pan_method="bicubic"``, as ``resize_images.m`` in the DLPan-Toolbox copy); the original MS is the
reference ``gt`` and ``lms`` is the degraded MS upsampled with the 23-tap interpolator.

``rsmif data simulate`` (``simulation.py``) applies it to whole scenes, handles no-data and writes the
files; ``tiles`` and ``full_resolution_tiles`` also cut the bundled sample scene.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from rsmif_core.data.errors import DataError
from rsmif_core.data.h5 import upsample_lms

if TYPE_CHECKING:
    from rsmif_core.ops.mtf import GainChoice

PAN_METHODS = ("mtf", "bicubic")


def resolve_mtf_gains(sensor: str, bands: int, gains: Sequence[float] | None = None,
                      label: str = "MTF gains") -> GainChoice:
    """The per-band Nyquist gains of the MS filter and where they come from: ``gains`` when given (one per
    band, each in (0, 1), else an error naming ``label``), else the sensor's table."""
    from rsmif_core.ops.mtf import GainChoice, UnknownSensorError, choose_ms_gains

    if gains is not None:
        given = tuple(float(g) for g in gains)
        if len(given) != bands or not all(0.0 < g < 1.0 for g in given):
            shown = ", ".join(f"{g:g}" for g in given) or "none"
            raise DataError(None, f"{label}: expected {bands} gains (one per MS band), each above 0 and below 1 "
                            f"(the filter's amplitude at the Nyquist frequency); found {shown}")
        return GainChoice(sensor, given, None, f"given ({label})")
    try:
        return choose_ms_gains(sensor, bands)
    except UnknownSensorError as exc:
        raise DataError(None, f"{exc}; or pass explicit per-band MTF gains") from None
    except ValueError as exc:
        raise DataError(None, str(exc)) from None


def reduce_resolution(
    pan: np.ndarray, ms: np.ndarray, sensor: str, ratio: int, *, pan_method: str = "mtf",
    mtf_gains: Sequence[float] | None = None,
) -> dict[str, np.ndarray]:
    """Wald protocol on one scene: ``pan`` Cg×H×W and ``ms`` C×h×w (H = ratio·h, h a multiple of ratio)
    -> ``gt`` (= ms), ``ms`` C×h/r×w/r, ``lms`` C×h×w, ``pan`` Cg×h×w, all float64 in the input's units."""
    from rsmif_core.ops.interp import imresize
    from rsmif_core.ops.mtf import canonical_sensor, mtf_degrade, mtf_degrade_pan

    if pan_method not in PAN_METHODS:
        raise DataError(None, f"unknown PAN degradation {pan_method!r}; expected one of {', '.join(PAN_METHODS)}")
    gains = resolve_mtf_gains(sensor, ms.shape[0], mtf_gains).gains
    ms_t = torch.from_numpy(np.asarray(ms, dtype=np.float64))[None]
    pan_t = torch.from_numpy(np.asarray(pan, dtype=np.float64))[None]
    ms_lr = mtf_degrade(ms_t, gains, ratio)
    if pan_method == "mtf":
        try:
            pan_sensor = canonical_sensor(sensor)
        except ValueError:
            pan_sensor = "none"
        pan_lr = mtf_degrade_pan(pan_t, pan_sensor, ratio)
    else:
        pan_lr = imresize(pan_t, scale=1.0 / ratio)
    # the MTF kernels have small negative lobes: clip the few negative DN they make at dark pixels
    ms_lr_np = ms_lr[0].numpy().clip(0.0, None)
    pan_lr = pan_lr.clamp_min(0.0)
    return {
        "gt": np.asarray(ms, dtype=np.float64),
        "ms": ms_lr_np,
        "lms": upsample_lms(ms_lr_np, ratio),
        "pan": pan_lr[0].numpy(),
    }


def full_resolution_tiles(pan: np.ndarray, ms: np.ndarray, ratio: int, size: int, rows: tuple[int, int]
                          ) -> dict[str, np.ndarray]:
    """Full-resolution test tiles (guide ``size``, guide ``rows``), each tile's ``lms`` interpolated from that
    tile's MS alone, as the toolbox's full-resolution examples are: the scene-wide ``lms`` of a large scene
    would need ratio² times the MS memory."""
    cut = tiles({"ms": np.asarray(ms, dtype=np.float64), "pan": np.asarray(pan, dtype=np.float64)}, size, size,
                ratio, rows=rows)
    lms = [upsample_lms(m, ratio) for m in cut["ms"]]
    cut["lms"] = np.stack(lms) if lms else np.empty((0, ms.shape[0], 0, 0))
    return cut


def align_scene(pan: np.ndarray, ms: np.ndarray, ratio: int, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """Crop MS to a multiple of ``multiple`` MS pixels and PAN to exactly ``ratio`` times that."""
    h = min(ms.shape[1], pan.shape[1] // ratio) // multiple * multiple
    w = min(ms.shape[2], pan.shape[2] // ratio) // multiple * multiple
    if h == 0 or w == 0:
        raise DataError(None, f"the scene (MS {ms.shape[1]}×{ms.shape[2]}) is smaller than {multiple} MS pixels")
    return pan[:, : h * ratio, : w * ratio], ms[:, :h, :w]


def tiles(arrays: dict[str, np.ndarray], size: int, stride: int, ratio: int, rows: tuple[int, int] | None = None,
          ) -> dict[str, np.ndarray]:
    """Cut N×C×size×size patches (size/stride in guide pixels, multiples of ratio) from guide-grid arrays
    (``ms`` on the low grid). ``rows`` limits the guide rows used. Returns stacked arrays per key."""
    h, w = arrays["pan"].shape[-2:]
    r0, r1 = rows if rows is not None else (0, h)
    tops = list(range(r0, r1 - size + 1, stride))
    lefts = list(range(0, w - size + 1, stride))
    out: dict[str, list[np.ndarray]] = {k: [] for k in arrays}
    for top in tops:
        for left in lefts:
            for key, a in arrays.items():
                if key == "ms":
                    lt, ll, ls = top // ratio, left // ratio, size // ratio
                    out[key].append(a[:, lt : lt + ls, ll : ll + ls])
                else:
                    out[key].append(a[:, top : top + size, left : left + size])
    if not tops or not lefts:
        return {k: np.empty((0,) + (a.shape[0],) + (0, 0)) for k, a in arrays.items()}
    return {k: np.stack(v) for k, v in out.items()}
