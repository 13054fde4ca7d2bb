"""The fused scene as one GeoTIFF on the PAN grid, written window by window.

The file is tiled (512×512 blocks, or the tile cores' size when that is not a multiple of 512), compressed (deflate level 1 with a predictor by default), BigTIFF when it could
pass 4 GB (``BIGTIFF=IF_SAFER``), with the PAN's CRS and transform; optionally converted to a Cloud Optimized
GeoTIFF at the end (GDAL's COG driver, overviews included). Values are written in the input's units
(``fused · max_value``): float32, or the spectral image's own dtype (integers rounded and clipped to the
dtype's range). Pixels without data (nodata in either input, or PAN pixels without MS coverage) get the
nodata value; a valid pixel that would round to the nodata value of an integer output is moved one DN away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsmif_core.data.scene import RasterInfo, SceneGrid, open_raster

COMPRESSIONS = ("deflate", "zstd", "lzw", "none")
BLOCK = 512
GDAL_CACHE_BYTES = 64 * 2**20  # GDAL's block cache otherwise grows to 5 % of the machine's memory
# Level 1: files within 1-3 % of the default level's size for 1/3 (deflate) to 1/4 (zstd) of the CPU time
# (a 1024²×8 tile: deflate 0.56 -> 0.40 s float32, 0.43 -> 0.14 s uint16; zstd 0.66 -> 0.16 s).
FAST_LEVELS: dict[str, dict[str, int]] = {"deflate": {"zlevel": 1}, "zstd": {"zstd_level": 1}}


@dataclass(frozen=True)
class OutputSpec:
    """What the output file holds and how it is encoded."""

    dtype: str  # numpy dtype name of the written values
    max_value: float  # written value = fused (in [0, 1]) · max_value
    nodata: float | None
    compress: str = "deflate"
    cog: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    descriptions: tuple[str | None, ...] = ()
    block: tuple[int, int] = (BLOCK, BLOCK)  # rows, columns of a GeoTIFF block

    @property
    def integral(self) -> bool:
        return bool(np.issubdtype(np.dtype(self.dtype), np.integer))


def output_block(core: int) -> int:
    """The block size along an axis whose tile cores are ``core`` pixels (a multiple of 16): 512 when cores are whole
    512-blocks, else the core itself up to 1024 (every write is then whole blocks), else 512."""
    if core % BLOCK == 0 or core % 16 or core > 2 * BLOCK:
        return BLOCK
    return core


def choose_output(pan: RasterInfo, ms: RasterInfo, grid: SceneGrid, dtype: str, max_value: float,
                  compress: str = "deflate", cog: bool = False, tags: dict[str, str] | None = None,
                  block: tuple[int, int] = (BLOCK, BLOCK)) -> OutputSpec:
    """The output's dtype (``"input"``: the spectral image's, or ``"float32"``) and nodata value.

    Nodata: the MS's, else the PAN's, when the output dtype can hold it; else NaN for float outputs, and 0 for
    integer outputs that need one (an input with nodata or a mask, or PAN pixels outside the MS).
    """
    if compress not in COMPRESSIONS:
        raise ValueError(f"unknown compression {compress!r}; expected one of {', '.join(COMPRESSIONS)}")
    out_dtype = np.dtype(ms.dtype if dtype == "input" else dtype)
    if out_dtype.kind not in "uif":
        raise ValueError(f"cannot write dtype {out_dtype}")
    needed = not grid.covers_pan or not (pan.all_valid and ms.all_valid) or np.dtype(pan.dtype).kind == "f" \
        or np.dtype(ms.dtype).kind == "f"
    nodata: float | None = None
    for candidate in (ms.nodata, pan.nodata):
        if candidate is not None and _representable(candidate, out_dtype):
            nodata = float(candidate)
            break
    if nodata is None and (needed or out_dtype.kind == "f"):
        nodata = float("nan") if out_dtype.kind == "f" else 0.0
    return OutputSpec(out_dtype.name, float(max_value), nodata, compress, cog, dict(tags or {}), ms.descriptions, block)


def _representable(value: float, dtype: np.dtype) -> bool:
    if np.isnan(value):
        return dtype.kind == "f"
    if dtype.kind == "f":
        return True
    info = np.iinfo(dtype)
    return float(value).is_integer() and info.min <= value <= info.max


def encode(fused: np.ndarray, valid: np.ndarray | None, spec: OutputSpec) -> np.ndarray:
    """C×h×w fused values in [0, 1] (float32) -> the written array (``spec.dtype``), nodata where not ``valid``."""
    values = fused.astype(np.float32, copy=False) * np.float32(spec.max_value)
    dtype = np.dtype(spec.dtype)
    if spec.integral:
        info = np.iinfo(dtype)
        out = np.clip(np.rint(values), info.min, info.max).astype(dtype)
        if spec.nodata is not None:
            nodata = int(spec.nodata)
            out[out == nodata] = nodata + 1 if nodata < info.max else nodata - 1  # a valid pixel never reads as nodata
    else:
        out = values.astype(dtype, copy=False)
    if valid is not None and spec.nodata is not None:
        out[:, ~valid] = dtype.type(spec.nodata)
    return out


def gtiff_profile(pan: RasterInfo, count: int, spec: OutputSpec) -> dict[str, Any]:
    rows, cols = spec.block
    profile: dict[str, Any] = {
        "driver": "GTiff", "height": pan.height, "width": pan.width, "count": count, "dtype": spec.dtype,
        "tiled": True, "blockxsize": cols, "blockysize": rows, "interleave": "pixel", "BIGTIFF": "IF_SAFER",
    }
    if spec.compress != "none":
        profile.update(compress=spec.compress, predictor=2 if spec.integral else 3, **FAST_LEVELS.get(spec.compress, {}))
    if spec.nodata is not None:
        profile["nodata"] = spec.nodata
    if pan.georeferenced:
        profile.update(crs=pan.crs, transform=pan.transform)
    return profile


class SceneWriter:
    """Writes the cores of a scene's tiles into ``path`` (one writer, one thread)."""

    def __init__(self, path: Path, pan: RasterInfo, grid: SceneGrid, count: int, spec: OutputSpec) -> None:
        self.path, self.pan, self.grid, self.count, self.spec = Path(path), pan, grid, count, spec
        self._dst: Any = None

    @contextmanager
    def opened(self) -> Iterator[SceneWriter]:
        with open_raster(self.path, "w", **gtiff_profile(self.pan, self.count, self.spec)) as dst:
            dst.update_tags(**self.spec.tags)
            for band, text in enumerate(self.spec.descriptions[: self.count], start=1):
                if text:
                    dst.set_band_description(band, text)
            self._dst = dst
            try:
                yield self
            finally:
                self._dst = None

    def write(self, row: int, col: int, fused: np.ndarray, valid: np.ndarray | None) -> None:
        """``fused``: C×h×w in [0, 1] at processed-region position (``row``, ``col``)."""
        from rasterio.windows import Window

        if self._dst is None:
            raise RuntimeError("SceneWriter: write inside `with writer.opened():`")
        height, width = fused.shape[-2:]
        window = Window(self.grid.col0 + col, self.grid.row0 + row, width, height)
        self._dst.write(encode(fused, valid, self.spec), window=window)


def convert_to_cog(source: Path, destination: Path, spec: OutputSpec) -> None:
    """Copy the tiled GeoTIFF ``source`` into a Cloud Optimized GeoTIFF (overviews, same compression)."""
    from rasterio.shutil import copy

    options: dict[str, Any] = {"BIGTIFF": "IF_SAFER", "BLOCKSIZE": BLOCK, "OVERVIEW_RESAMPLING": "AVERAGE"}
    if spec.compress != "none":
        options.update(COMPRESS=spec.compress.upper(), PREDICTOR="YES")
        if spec.compress in FAST_LEVELS:
            options["LEVEL"] = 1
    copy(str(source), str(destination), driver="COG", **options)
