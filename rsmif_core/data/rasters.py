"""Read a user's scene (GeoTIFF, MATLAB .mat v5 or v7.3, .npy) as a C×H×W float64 array with its grid
and which pixels hold data.

MATLAB stores images H×W×C; v7.3 files are HDF5, where h5py sees the axes reversed (C×W×H), so they
are transposed back. A .npy array is taken as C×H×W when its first axis is the smallest, else H×W×C.

A pixel holds no data when any band is NaN, when every band is 0 (the fill value of imagery
products), or, in a GeoTIFF, where the file's masks say so (its nodata value, a mask band or alpha).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rsmif_core.data.errors import DataError, did_you_mean

RASTER_SUFFIXES = (".tif", ".tiff", ".mat", ".npy")


@dataclass
class Raster:
    """An image C×H×W in its file's units, and its georeferencing when the file had one."""

    path: Path
    array: np.ndarray
    dtype: str
    crs: Any = None
    transform: Any = None
    valid: np.ndarray | None = None  # H×W, False where the pixel holds no data (None: computed from the array)
    nodata: float | None = None  # the GeoTIFF's nodata value, when it has one
    key: str | None = None  # the variable read from a .mat file

    def __post_init__(self) -> None:
        if self.valid is None:
            self.valid = pixels_with_data(self.array)

    @property
    def nodata_pixels(self) -> int:
        assert self.valid is not None
        return int(self.valid.size - np.count_nonzero(self.valid))

    @property
    def bands(self) -> int:
        return int(self.array.shape[0])

    @property
    def hw(self) -> tuple[int, int]:
        return int(self.array.shape[1]), int(self.array.shape[2])


def read_raster(path: str | Path, key: str | None = None) -> Raster:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(path, "no such file" if not path.exists() else "expected a file, found a folder")
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        return _read_tif(path)
    if suffix == ".mat":
        return _read_mat(path, key)
    if suffix == ".npy":
        return _to_raster(path, np.load(path, allow_pickle=False), channels_first=None)
    raise DataError(path, f"unsupported image format {suffix!r}; expected one of {', '.join(RASTER_SUFFIXES)}")


def _read_tif(path: Path) -> Raster:
    import rasterio

    try:
        with warnings.catch_warnings():
            # a TIFF without georeferencing is fine here (its grid is then the shapes alone): rasterio would warn
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                array = src.read()
                masks = src.read_masks()
                crs, transform, nodata = src.crs, src.transform, src.nodata
    except rasterio.errors.RasterioError as exc:
        raise DataError(path, f"not a readable GeoTIFF: {exc}") from None
    georef = crs is not None or not transform.is_identity
    values = array.astype(np.float64)
    valid = pixels_with_data(values) & (masks > 0).all(axis=0)
    return Raster(path, values, str(array.dtype), crs, transform if georef else None, valid,
                  None if nodata is None else float(nodata))


def pixels_with_data(array: np.ndarray) -> np.ndarray:
    """H×W: False where any band of C×H×W ``array`` is NaN or every band is 0."""
    with np.errstate(invalid="ignore"):
        return ~np.isnan(array).any(axis=0) & (array != 0).any(axis=0)


def _pick_key(path: Path, names: list[str], key: str | None) -> str:
    if key is not None:
        if key not in names:
            raise DataError(path, f"no variable {key!r}{did_you_mean(key, names)}; the file holds: {', '.join(names)}")
        return key
    images = names
    if len(images) != 1:
        raise DataError(
            path, f"the file holds {len(images)} variables ({', '.join(images) or 'none'}); name the image with a key"
        )
    return images[0]


def _read_mat(path: Path, key: str | None) -> Raster:
    import scipy.io

    try:
        contents = scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3: an HDF5 file
        return _read_mat73(path, key)
    except (ValueError, OSError) as exc:
        raise DataError(path, f"not a readable MATLAB file: {exc}") from None
    names = [k for k, v in contents.items() if not k.startswith("__") and isinstance(v, np.ndarray) and v.ndim >= 2
             and min(v.shape[:2]) > 1]
    name = _pick_key(path, names, key)
    return _to_raster(path, contents[name], channels_first=False, key=name)


def _read_mat73(path: Path, key: str | None) -> Raster:
    import h5py

    with h5py.File(path, "r") as f:
        names = [k for k, v in f.items() if isinstance(v, h5py.Dataset) and v.ndim >= 2 and not k.startswith("#")]
        name = _pick_key(path, names, key)
        array = np.asarray(f[name]).T  # MATLAB column-major order seen by h5py: reverse the axes
    return _to_raster(path, array, channels_first=False, key=name)


def _to_raster(path: Path, array: np.ndarray, channels_first: bool | None, key: str | None = None) -> Raster:
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3:
        if channels_first is None:
            channels_first = array.shape[0] < array.shape[-1]
        if not channels_first:
            array = np.moveaxis(array, -1, 0)
    else:
        raise DataError(path, f"expected an image H×W or H×W×C, found shape {'×'.join(map(str, array.shape))}")
    if not np.issubdtype(array.dtype, np.number):
        raise DataError(path, f"expected numbers, found dtype {array.dtype}")
    return Raster(path, np.ascontiguousarray(array, dtype=np.float64), str(array.dtype), key=key)


def check_pair(pan: Raster, ms: Raster, ratio: int | None) -> int:
    """Check that PAN and MS cover the same ground and return the ratio (given or from the grids).

    The grids are matched as for whole-scene prediction (:func:`rsmif_core.data.scene.match_grids`: same CRS,
    north-up pixels, an integer ratio, MS pixel corners on PAN pixel corners; without georeferencing the shapes
    alone give the ratio). Both images must start at the same corner and the PAN must be the MS times the ratio
    (up to ``ratio - 1`` trailing PAN pixels).
    """
    from affine import Affine

    from rsmif_core.data.scene import RasterInfo, match_grids

    infos = [RasterInfo(r.path, *r.hw, r.bands, r.dtype, r.crs, r.transform if r.transform is not None else Affine.identity(),
                        r.nodata, all_valid=True) for r in (pan, ms)]
    (ph, pw), (mh, mw) = pan.hw, ms.hw
    if ratio is not None and not infos[0].georeferenced and (ph, pw) == (ratio * mh, ratio * mw):
        return ratio
    grid = match_grids(*infos)
    if ratio is not None and grid.ratio != ratio:
        raise DataError(pan.path, f"ratio {ratio} does not match the grids: MS pixel / PAN pixel = {grid.ratio} ({ms.path})")
    ratio = grid.ratio
    if (grid.row0, grid.col0, grid.ms_row0, grid.ms_col0) != (0, 0, 0, 0):
        raise DataError(pan.path, f"PAN and MS ({ms.path}) are on different grids (they do not start at the same corner): the MS's first whole "
                                  f"pixel inside the PAN is MS row {grid.ms_row0}, column {grid.ms_col0} at PAN row "
                                  f"{grid.row0}, column {grid.col0}; crop both to their common area first")
    if abs(ph - ratio * mh) >= ratio or abs(pw - ratio * mw) >= ratio:
        raise DataError(pan.path, f"PAN {ph}×{pw} and MS {mh}×{mw} ({ms.path}) do not match ratio {ratio} "
                                  f"(expected PAN {ratio * mh}×{ratio * mw})")
    return ratio


def read_scene_list(path: str | Path) -> list[tuple[Path, Path]]:
    """(PAN, MS) path pairs from a text file: one ``PAN MS`` pair per line (shell quoting for paths with
    spaces), ``#`` starts a comment, relative paths are relative to the file's folder."""
    import shlex

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(path, "no such file" if not path.exists() else "expected a scene list file, found a folder")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable text file: {exc}") from None
    pairs = []
    for number, line in enumerate(lines, 1):
        try:
            fields = shlex.split(line, comments=True)
        except ValueError as exc:
            raise DataError(path, f"line {number}: {exc}") from None
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(path, f"line {number}: expected 'PAN MS' (two paths), found {len(fields)} fields: {line.strip()!r}")
        pan, ms = (Path(f).expanduser() for f in fields)
        pairs.append((pan if pan.is_absolute() else path.parent / pan, ms if ms.is_absolute() else path.parent / ms))
    if not pairs:
        raise DataError(path, "the scene list names no scene (expected lines 'PAN MS')")
    return pairs
