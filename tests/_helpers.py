"""Helpers for the core tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rsmif_core.testing import find_shared

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The read-only reference folder beside the repository (or $RSMIF_SHARED); a path that may not exist."""
    return find_shared(REPO) or REPO.parent / "shared"


def make_distribution(root: Path, dist: str, module: str, source: str, entry_name: str | None = None) -> Path:
    """Write a module and a ``*.dist-info`` with an ``rsmif`` entry point into ``root`` (a sys.path entry)."""
    (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[rsmif]\n{entry_name or module} = {module}\n", encoding="utf-8")
    return info


def wv2_geotiff_pair(shared: Path, folder: Path, nodata_columns: tuple[int, int] | None = (70, 76),
                     window: tuple[int, int, int, int] | None = None) -> tuple[Path, Path]:
    """The shared WorldView-2 scene as a proper PAN/MS GeoTIFF pair in ``folder``: ``pan.tif`` (600×600
    uint16, 0.5 m) and ``ms.tif`` (4 bands blue, green, red, NIR1, 150×150 uint16 at the native 2 m: the
    shipped 1 m file is a 2× nearest copy), same CRS (EPSG:32631), nodata 0 in both. Besides the scene's
    own no-data (zeros in its top 60 MS rows), the MS columns ``nodata_columns`` [start, stop) and the PAN
    columns under them are set to no-data, a strip across the whole scene. ``window`` (MS row, column,
    height, width) crops both to a part of the scene (after the no-data strip)."""
    import numpy as np
    import rasterio

    source = shared / "data" / "wv2-spacenet6"
    folder.mkdir(parents=True, exist_ok=True)
    with rasterio.open(source / "pan3.tif") as src:
        pan, pan_profile = src.read(), src.profile
    with rasterio.open(source / "ms3.tif") as src:
        ms = src.read()[:, ::2, ::2]
        ms_profile = src.profile | {"width": ms.shape[2], "height": ms.shape[1],
                                    "transform": src.transform @ rasterio.Affine.scale(2.0)}
    if nodata_columns is not None:
        start, stop = nodata_columns
        ms[:, :, start:stop] = 0
        pan[:, :, 4 * start : 4 * stop] = 0
    if window is not None:
        row, col, height, width = window
        ms = ms[:, row : row + height, col : col + width]
        pan = pan[:, 4 * row : 4 * (row + height), 4 * col : 4 * (col + width)]
        ms_profile |= {"height": height, "width": width,
                       "transform": ms_profile["transform"] @ rasterio.Affine.translation(col, row)}
        pan_profile = pan_profile | {"height": 4 * height, "width": 4 * width, "transform": pan_profile["transform"]
                                     @ rasterio.Affine.translation(4 * col, 4 * row)}
    paths = folder / "pan.tif", folder / "ms.tif"
    for path, array, profile in ((paths[0], pan, pan_profile), (paths[1], ms.astype(np.uint16), ms_profile)):
        profile = profile | {"driver": "GTiff", "dtype": "uint16", "nodata": 0, "count": array.shape[0]}
        profile.pop("blockysize", None)
        profile.pop("blockxsize", None)
        profile.pop("tiled", None)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(array.astype(np.uint16))
    return paths
