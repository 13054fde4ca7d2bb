"""A whole PAN/MS scene as two GeoTIFFs: match their grids through the georeference, read windows.

:func:`match_grids` decides how the spectral image (MS, at its own resolution) lies on the guide grid (PAN):
the same CRS, north-up pixels, an integer ratio of pixel sizes, MS pixel corners on PAN pixel corners, and
an overlap. The part of the PAN covered by whole MS pixels is the *processed region*; the rest of the PAN
grid has no spectral data. :class:`ScenePair` opens both files and reads windows of the processed region:
the guide as it is, the spectral image at arbitrary (wrapped or mirrored) row and column indices, and the
validity masks (nodata values, internal masks, non-finite values). Nothing here reads a whole image.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rsmif_core.data.errors import DataError

# Georeferences are stored as floating point: pixel sizes and corners within these tolerances count as exact.
RATIO_TOLERANCE = 1e-4  # relative, on MS pixel size / PAN pixel size
CORNER_TOLERANCE = 0.1  # in PAN pixels, on where the MS corner falls on the PAN grid (below any registration error)


@dataclass(frozen=True)
class RasterInfo:
    """What RSMIF needs to know about one GeoTIFF without reading its pixels."""

    path: Path
    height: int
    width: int
    count: int
    dtype: str
    crs: Any
    transform: Any
    nodata: float | None
    all_valid: bool  # no nodata value and no mask band (non-finite values of a float image are still invalid)
    descriptions: tuple[str | None, ...] = ()

    @property
    def georeferenced(self) -> bool:
        return self.crs is not None or not self.transform.is_identity


@dataclass(frozen=True)
class SceneGrid:
    """How the spectral image lies on the guide grid.

    The processed region is PAN rows ``row0 .. row0 + height`` and columns ``col0 .. col0 + width``; it is
    covered by MS rows ``ms_row0 .. ms_row0 + height / ratio`` (and columns likewise). ``height`` and ``width``
    are multiples of the ratio.
    """

    ratio: int
    pan_height: int
    pan_width: int
    row0: int
    col0: int
    height: int
    width: int
    ms_row0: int
    ms_col0: int

    @property
    def ms_height(self) -> int:
        return self.height // self.ratio

    @property
    def ms_width(self) -> int:
        return self.width // self.ratio

    @property
    def covers_pan(self) -> bool:
        return (self.row0, self.col0, self.height, self.width) == (0, 0, self.pan_height, self.pan_width)

    def cropped(self, alignment: int) -> SceneGrid:
        """The processed region cut down (at its bottom and right) to a multiple of ``alignment`` (a multiple of
        the ratio); the cut rows and columns are left without output."""
        if alignment % self.ratio:
            raise ValueError(f"alignment {alignment} is not a multiple of the ratio {self.ratio}")
        height, width = self.height // alignment * alignment, self.width // alignment * alignment
        if height == 0 or width == 0:
            raise DataError(None, f"the region covered by both images ({self.height}×{self.width} PAN pixels) is "
                                  f"smaller than the model's tile alignment ({alignment} pixels)")
        return SceneGrid(self.ratio, self.pan_height, self.pan_width, self.row0, self.col0, height, width,
                         self.ms_row0, self.ms_col0)


_open_lock = threading.Lock()


def open_raster(path: str | Path, mode: str = "r", **profile: Any) -> Any:
    """``rasterio.open`` without rasterio's NotGeoreferencedWarning (images without a georeference are checked and
    named by RSMIF itself). The filter is set only around the call, under a lock: ``warnings.catch_warnings``
    changes process-wide state, and the reader and writer threads of ``rsmif predict`` open files concurrently."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with _open_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path, mode, **profile)


def raster_info(path: str | Path) -> RasterInfo:
    """Open ``path`` only for its header; a clear error for a missing or unreadable file."""
    import rasterio
    from rasterio.enums import MaskFlags

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(path, "no such file" if not path.exists() else "expected a file, found a folder")
    try:
        with open_raster(path) as src:  # a missing georeference is checked later, with a clearer message
            return RasterInfo(
                path, src.height, src.width, src.count, src.dtypes[0], src.crs, src.transform, src.nodata,
                all(flag == [MaskFlags.all_valid] for flag in src.mask_flag_enums), tuple(src.descriptions),
            )
    except rasterio.errors.RasterioError as exc:
        raise DataError(path, f"not a readable raster: {exc}") from None


def _near_integer(value: float, tolerance: float) -> int | None:
    nearest = round(value)
    return int(nearest) if abs(value - nearest) <= tolerance else None


def match_grids(pan: RasterInfo, ms: RasterInfo) -> SceneGrid:
    """Where ``ms`` lies on ``pan``'s grid; a :class:`DataError` naming the problem when the two do not fit."""
    if pan.georeferenced != ms.georeferenced:
        with_ref, without = (pan, ms) if pan.georeferenced else (ms, pan)
        raise DataError(without.path, f"has no georeference while {with_ref.path} has one; both images need one "
                                      "(or neither, when they cover exactly the same ground)")
    if not pan.georeferenced:
        return _match_by_shape(pan, ms)
    if pan.crs != ms.crs:
        raise DataError(ms.path, f"its CRS {ms.crs} differs from the PAN's {pan.crs} ({pan.path}); reproject one "
                                 "of them first")
    for info in (pan, ms):
        t = info.transform
        if t.b != 0 or t.d != 0:
            raise DataError(info.path, "rotated or sheared pixel grids are not supported; warp the image to a "
                                       "north-up grid first")
    pt, mt = pan.transform, ms.transform
    rx, ry = mt.a / pt.a, mt.e / pt.e
    ratio = _near_integer(rx, RATIO_TOLERANCE * abs(rx))
    if ratio is None or ratio < 1 or _near_integer(ry, RATIO_TOLERANCE * abs(ry)) != ratio:
        raise DataError(ms.path, f"its pixel size {abs(mt.a):g}×{abs(mt.e):g} is not an integer multiple of the "
                                 f"PAN's {abs(pt.a):g}×{abs(pt.e):g} ({pan.path}): ratio {rx:g} across, {ry:g} "
                                 "down; both axes need the same integer ratio")
    # The MS upper-left corner on the PAN grid, in PAN pixels.
    x, y = (mt.c - pt.c) / pt.a, (mt.f - pt.f) / pt.e
    col_off, row_off = _near_integer(x, CORNER_TOLERANCE), _near_integer(y, CORNER_TOLERANCE)
    if col_off is None or row_off is None:
        raise DataError(ms.path, f"its pixel corners do not fall on PAN pixel corners: its upper-left corner is at "
                                 f"PAN column {x:.3f}, row {y:.3f} ({pan.path}); resample it onto a grid aligned "
                                 "with the PAN")
    rows = _overlap(row_off, ratio, ms.height, pan.height)
    cols = _overlap(col_off, ratio, ms.width, pan.width)
    if rows is None or cols is None:
        raise DataError(ms.path, f"does not overlap the PAN ({pan.path}) by a whole MS pixel: MS bounds "
                                 f"{_bounds(ms)}, PAN bounds {_bounds(pan)} (CRS {pan.crs})")
    (ms_row0, n_rows), (ms_col0, n_cols) = rows, cols
    return SceneGrid(ratio, pan.height, pan.width, row_off + ratio * ms_row0, col_off + ratio * ms_col0,
                     ratio * n_rows, ratio * n_cols, ms_row0, ms_col0)


def _overlap(offset: int, ratio: int, ms_size: int, pan_size: int) -> tuple[int, int] | None:
    """The first MS index and the count of MS pixels that lie wholly inside the PAN along one axis."""
    first = max(0, math.ceil(-offset / ratio))
    stop = min(ms_size, (pan_size - offset) // ratio)
    return (first, stop - first) if stop > first else None


def _bounds(info: RasterInfo) -> str:
    t = info.transform
    xs = sorted((t.c, t.c + t.a * info.width))
    ys = sorted((t.f, t.f + t.e * info.height))
    return f"x {xs[0]:.3f}..{xs[1]:.3f}, y {ys[0]:.3f}..{ys[1]:.3f}"


def _match_by_shape(pan: RasterInfo, ms: RasterInfo) -> SceneGrid:
    if pan.height % ms.height or pan.width % ms.width or pan.height // ms.height != pan.width // ms.width:
        raise DataError(ms.path, f"without a georeference the PAN {pan.height}×{pan.width} ({pan.path}) must be the "
                                 f"same integer multiple of the MS {ms.height}×{ms.width} along both axes")
    ratio = pan.height // ms.height
    return SceneGrid(ratio, pan.height, pan.width, 0, 0, pan.height, pan.width, 0, 0)


def _runs(index: np.ndarray) -> list[tuple[int, int]]:
    """Sorted unique values of ``index`` as (start, stop) runs of consecutive integers."""
    values = np.unique(index)
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    return [(int(run[0]), int(run[-1]) + 1) for run in np.split(values, breaks)]


def boundary_index(start: int, stop: int, size: int, mode: str) -> np.ndarray:
    """Indices ``start .. stop`` of an axis of ``size`` pixels, those outside it mapped by ``mode``:
    ``circular`` (wrap around, MATLAB imfilter 'circular'), ``symmetric`` (mirror with the edge repeated,
    MATLAB imresize) or ``clamp`` (only indices inside are allowed)."""
    index = np.arange(start, stop)
    if mode == "circular":
        return np.mod(index, size)
    if mode == "symmetric":
        index = np.mod(index, 2 * size)
        return np.where(index < size, index, 2 * size - 1 - index)
    if mode == "clamp":
        if start < 0 or stop > size:
            raise ValueError(f"indices {start}..{stop} leave an axis of {size} pixels")
        return index
    raise ValueError(f"unknown boundary mode {mode!r}")


class ScenePair:
    """Both images of a scene, open for windowed reads of the processed region (one reader per thread).

    Windows are given in processed-region coordinates: guide rows and columns from 0 to ``grid.height`` and
    ``grid.width``, spectral ones from 0 to ``grid.ms_height`` and ``grid.ms_width``.
    """

    def __init__(self, pan: RasterInfo, ms: RasterInfo, grid: SceneGrid) -> None:
        self.pan_info, self.ms_info, self.grid = pan, ms, grid
        self._pan: Any = None
        self._ms: Any = None

    @classmethod
    def from_paths(cls, pan: str | Path, ms: str | Path) -> ScenePair:
        pan_info, ms_info = raster_info(pan), raster_info(ms)
        return cls(pan_info, ms_info, match_grids(pan_info, ms_info))

    def with_grid(self, grid: SceneGrid) -> ScenePair:
        return ScenePair(self.pan_info, self.ms_info, grid)

    @property
    def guide_bands(self) -> int:
        return self.pan_info.count

    @property
    def spectral_bands(self) -> int:
        return self.ms_info.count

    @property
    def ratio(self) -> int:
        return self.grid.ratio

    @contextmanager
    def opened(self) -> Iterator[ScenePair]:
        """Open both files for this thread's reads (GDAL handles must not be shared between threads)."""
        with open_raster(self.pan_info.path) as pan, open_raster(self.ms_info.path) as ms:
            self._pan, self._ms = pan, ms
            try:
                yield self
            finally:
                self._pan = self._ms = None

    def _require_open(self) -> None:
        if self._pan is None:
            raise RuntimeError("ScenePair: read inside `with scene.opened():`")

    def read_guide(self, row: int, col: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Guide window (C×h×w float32, file units, non-finite values as 0) and its validity (h×w bool, None when
        every pixel is valid)."""
        from rasterio.windows import Window

        self._require_open()
        window = Window(self.grid.col0 + col, self.grid.row0 + row, width, height)
        data = self._pan.read(window=window, out_dtype=np.float32)
        valid = None if self.pan_info.all_valid else self._pan.read_masks(window=window).min(axis=0) > 0
        return _finite(data, valid)

    def read_spectral(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Spectral pixels at ``rows`` × ``cols`` (1-D index arrays inside the processed MS, any order and
        repeats) as C×len(rows)×len(cols) float64 in file units, and their validity (None: all valid).

        Reads only the runs of consecutive indices that occur (a wrapped window is two runs per axis)."""
        from rasterio.windows import Window

        self._require_open()
        grid = self.grid
        if rows.min() < 0 or rows.max() >= grid.ms_height or cols.min() < 0 or cols.max() >= grid.ms_width:
            raise ValueError("spectral indices outside the processed region")
        row_runs, col_runs = _runs(rows), _runs(cols)
        unique_rows = np.concatenate([np.arange(a, b) for a, b in row_runs])
        unique_cols = np.concatenate([np.arange(a, b) for a, b in col_runs])
        compact = np.empty((self.spectral_bands, unique_rows.size, unique_cols.size), dtype=np.float64)
        compact_valid = None if self.ms_info.all_valid else np.empty(compact.shape[1:], dtype=bool)
        r = 0
        for r0, r1 in row_runs:
            c = 0
            for c0, c1 in col_runs:
                window = Window(grid.ms_col0 + c0, grid.ms_row0 + r0, c1 - c0, r1 - r0)
                compact[:, r : r + r1 - r0, c : c + c1 - c0] = self._ms.read(window=window)
                if compact_valid is not None:
                    masks = self._ms.read_masks(window=window)
                    compact_valid[r : r + r1 - r0, c : c + c1 - c0] = masks.min(axis=0) > 0
                c += c1 - c0
            r += r1 - r0
        at_rows, at_cols = np.searchsorted(unique_rows, rows), np.searchsorted(unique_cols, cols)
        data = compact[:, at_rows[:, None], at_cols[None, :]]
        valid = None if compact_valid is None else compact_valid[at_rows[:, None], at_cols[None, :]]
        return _finite(data, valid)


def _finite(data: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Non-finite values (NaN nodata, overflow) set to 0 and marked invalid."""
    if not np.issubdtype(data.dtype, np.floating):
        return data, valid
    finite = np.isfinite(data)
    if finite.all():
        return data, valid
    data = np.where(finite, data, 0).astype(data.dtype, copy=False)
    ok = finite.all(axis=0)
    return data, ok if valid is None else valid & ok
