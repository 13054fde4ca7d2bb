"""The Wald-protocol builder: a full-resolution PAN + MS scene -> PanCollection-format h5 files.

Reduced resolution (with reference): the MS is filtered with the sensor's MTF-matched filter and
decimated by the ratio (``rsmif_core.ops.mtf.mtf_degrade``, the implementation the metrics use); the
PAN likewise with its own MTF filter (``pan_method="mtf"``), or with MATLAB bicubic ``imresize``
(``pan_method="bicubic"``, as ``resize_images.m`` in the DLPan-Toolbox copy); the original MS is the
reference ``gt`` and ``lms`` is the degraded MS upsampled with the 23-tap interpolator.

Differences from the toolbox demo (``Demo_DataSimu_*.m`` + ``segImg_new.m``): the bottom
``test_fraction`` of the scene is held out (never cut into training patches) and gives both the
reduced-resolution test tiles and the full-resolution test tiles, so test images never overlap training
patches; the toolbox instead splits overlapping patches at random into train/valid, which we keep for
train vs valid only. Negative input DN (noise in reflectance products) are clipped to 0 and counted,
and so are the few negative values the MTF kernels' side lobes make next to zero-valued pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from rsmif_core.data.errors import DataError
from rsmif_core.data.h5 import upsample_lms

PAN_METHODS = ("mtf", "bicubic")


@dataclass
class SimulationReport:
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ratio: int = 4
    sensor: str = "none"
    max_value: float = 2047.0
    clipped_negative: int = 0


def _mtf_gains(sensor: str, bands: int, gains: Sequence[float] | None) -> Any:
    from rsmif_core.ops.mtf import UnknownSensorError, ms_gains

    if gains is not None:
        if len(gains) != bands:
            raise DataError(None, f"{len(gains)} MTF gains given for an MS image of {bands} bands")
        return tuple(float(g) for g in gains)
    try:
        return ms_gains(sensor, bands)
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
    gains = _mtf_gains(sensor, ms.shape[0], mtf_gains)
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


def write_pancollection(path: Path, arrays: dict[str, np.ndarray], attrs: dict[str, Any]) -> None:
    """Write N×C×H×W float64 arrays under keys gt/ms/lms/pan (PanCollection's layout), one item per chunk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with h5py.File(tmp, "w") as f:
        for key in ("gt", "lms", "ms", "pan"):
            if key in arrays:
                a = np.asarray(arrays[key], dtype=np.float64)
                f.create_dataset(key, data=a, chunks=(1,) + a.shape[1:] if a.shape[0] else None)
        for k, v in attrs.items():
            f.attrs[k] = v
    tmp.replace(path)


def _check_values(name: str, a: np.ndarray) -> int:
    if not np.isfinite(a).all():
        raise DataError(None, f"the {name} holds NaN or infinite values")
    negative = int((a < 0).sum())
    if negative:
        np.maximum(a, 0, out=a)
    return negative


def simulate(
    pan: np.ndarray,
    ms: np.ndarray,
    out: str | Path,
    *,
    sensor: str,
    ratio: int,
    name: str | None = None,
    max_value: float | None = None,
    patch: int = 64,
    stride: int | None = None,
    split: float = 0.9,
    test_fraction: float = 0.2,
    test_size: int = 256,
    fr_size: int = 512,
    pan_method: str = "mtf",
    mtf_gains: Sequence[float] | None = None,
    seed: int = 0,
    source: str = "",
) -> SimulationReport:
    """Build ``train_<name>.h5``, ``valid_<name>.h5``, ``test_<name>_multiExm1.h5`` (reduced resolution)
    and ``test_<name>_OrigScale_multiExm1.h5`` (full resolution) in ``out`` from one scene.

    ``pan`` Cg×H×W and ``ms`` C×h×w in DN; ``patch``/``stride`` in guide pixels of the reduced scene
    (default stride: 3/4 of the patch, the toolbox's overlap); ``split`` the train share of the patches;
    ``test_size``/``fr_size`` the guide size of reduced / full-resolution test tiles (shrunk to fit).
    """
    ratio = int(ratio)
    if ratio < 1:
        raise DataError(None, f"ratio must be a positive integer, found {ratio}")
    name = name or sensor.lower()
    stride = stride or max(ratio, (patch * 3 // 4) // ratio * ratio)
    for label, value in (("patch", patch), ("stride", stride)):
        if value % ratio or value <= 0:
            raise DataError(None, f"{label} {value} must be a positive multiple of the ratio {ratio}")
    if not 0.0 < split <= 1.0:
        raise DataError(None, f"split must lie in (0, 1], found {split}")
    if not 0.0 < test_fraction < 1.0:
        raise DataError(None, f"test_fraction must lie in (0, 1), found {test_fraction}")
    pan = np.array(pan, dtype=np.float64)
    ms = np.array(ms, dtype=np.float64)
    clipped = _check_values("PAN", pan) + _check_values("MS", ms)
    pan, ms = align_scene(pan, ms, ratio, ratio)
    if max_value is None:
        from rsmif_core.data.sensors import sensor_max_value

        max_value = sensor_max_value(sensor)
        if max_value is None:
            raise DataError(None, f"no known radiometric scale for sensor {sensor!r}: pass max_value")
    reduced = reduce_resolution(pan, ms, sensor, ratio, pan_method=pan_method, mtf_gains=mtf_gains)

    h = reduced["pan"].shape[-2]  # reduced scene rows (guide grid) = MS rows
    test_rows = int(round(h * test_fraction)) // ratio * ratio
    train_rows = h - test_rows
    if train_rows < patch:
        raise DataError(None, f"the scene leaves {train_rows} rows for training, fewer than one patch of {patch}")
    if test_rows < ratio * 2:
        raise DataError(None, f"test_fraction {test_fraction} leaves {test_rows} rows for testing")
    patches = tiles(reduced, patch, stride, ratio, rows=(0, train_rows))
    n = patches["pan"].shape[0]
    order = np.random.default_rng(seed).permutation(n)
    n_train = max(1, int(round(n * split))) if split < 1 else n
    splits = {"train": order[:n_train], "valid": order[n_train:]}

    w = reduced["pan"].shape[-1]
    rr_size = min(test_size, test_rows, w) // ratio * ratio
    rr = tiles(reduced, rr_size, rr_size, ratio, rows=(train_rows, h))
    fr_rows = (train_rows * ratio, h * ratio)
    fr_tile = min(fr_size, test_rows * ratio, w * ratio) // ratio * ratio
    fr = full_resolution_tiles(pan, ms, ratio, fr_tile, fr_rows)

    out = Path(out)
    attrs = {"sensor": sensor, "ratio": ratio, "max_value": float(max_value), "source": source,
             "protocol": f"wald (ms: MTF filter + decimation; pan: {pan_method})"}
    report = SimulationReport(ratio=ratio, sensor=sensor, max_value=float(max_value), clipped_negative=clipped)
    outputs = {
        "train": (out / f"train_{name}.h5", {k: v[splits["train"]] for k, v in patches.items()}),
        "valid": (out / f"valid_{name}.h5", {k: v[splits["valid"]] for k, v in patches.items()}),
        "test": (out / f"test_{name}_multiExm1.h5", rr),
        "test_fr": (out / f"test_{name}_OrigScale_multiExm1.h5", fr),
    }
    for split_name, (path, arrays) in outputs.items():
        if arrays["pan"].shape[0] == 0:
            continue
        write_pancollection(path, arrays, attrs | {"split": split_name})
        report.files[split_name] = path
        report.counts[split_name] = int(arrays["pan"].shape[0])
    return report
