"""Write fused images: .mat like the authors' test scripts, or GeoTIFF on the data's DN scale, georeferenced."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch import Tensor

from rsmif_core.errors import RunFailure, UsageError
from rsmif_core.evaluation.runner import ItemBatch
from rsmif_core.io import atomic_write

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(image_id: str) -> str:
    """A file name from a sample id (ids may hold paths or odd characters)."""
    name = _UNSAFE.sub("_", str(image_id)).strip("._")
    return name or "image"


Dtype = Literal["float32", "uint16"]


def save_mat(path: Path, fused: Tensor, max_value: float, info: dict[str, Any]) -> None:
    """One image as ``sr`` (H×W×C float32, raw / max_value — the scale of the authors' saved outputs).

    Extra keys say how to get back to the sensor's values: ``max_value`` (``sr * max_value`` is DN),
    ``scale`` (a sentence), and the sample's ``id``, ``sensor``, ``task``, ``ratio`` and, when the data had
    them, ``crs`` (WKT) and ``transform`` (the six affine coefficients a, b, c, d, e, f).
    """
    from scipy.io import loadmat, savemat

    sr = fused.detach().float().cpu().permute(1, 2, 0).numpy().astype(np.float32)
    payload = {
        "sr": sr,
        "max_value": np.float64(max_value),
        "scale": "sr = raw / max_value; multiply by max_value for the sensor's digital numbers",
        **{k: v for k, v in info.items() if isinstance(v, (str, int, float))},
    }
    if info.get("crs") is not None:
        payload["crs"] = str(_wkt(info["crs"]))
    if info.get("transform") is not None:
        payload["transform"] = np.asarray(list(_affine(info["transform"]))[:6], dtype=np.float64)

    def verify(tmp: Path) -> None:
        if loadmat(tmp)["sr"].shape != sr.shape:
            raise RunFailure(f"{tmp}: the written image does not read back")

    atomic_write(path, lambda tmp: savemat(tmp, payload, do_compression=True), verify)


def to_radiometric(fused: Tensor, max_value: float, dtype: Dtype = "float32") -> np.ndarray:
    """C×H×W array on the data's DN scale (``fused · max_value``): float32, or uint16 rounded and clipped to
    [0, max_value] (slight over/undershoots of a network are not data)."""
    values = fused.detach().double().cpu().numpy() * max_value
    if dtype == "uint16":
        if not 1 < max_value <= 65535:
            raise UsageError(f"--dtype uint16 needs a DN scale up to 65535; this data's max_value is {max_value:g} "
                             "(use --dtype float32)")
        return np.clip(np.rint(values), 0, max_value).astype(np.uint16)
    return values.astype(np.float32)


def _affine(transform: Any) -> Any:
    from rasterio.transform import Affine

    return transform if isinstance(transform, Affine) else Affine(*list(transform)[:6])


def _wkt(crs: Any) -> str:
    from rasterio.crs import CRS

    return crs.to_wkt() if isinstance(crs, CRS) else CRS.from_user_input(crs).to_wkt()


def geotiff_profile(data: np.ndarray, crs: Any = None, transform: Any = None) -> dict[str, Any]:
    """A tiled, compressed GTiff profile for C×H×W ``data``; georeferenced when ``crs`` and ``transform`` are given."""
    count, height, width = data.shape
    profile: dict[str, Any] = {
        "driver": "GTiff", "height": height, "width": width, "count": count, "dtype": data.dtype.name,
        "compress": "deflate", "predictor": 3 if data.dtype.kind == "f" else 2, "BIGTIFF": "IF_SAFER",
    }
    if height >= 16 and width >= 16:  # TIFF tiles are multiples of 16 pixels
        block = 256 if min(height, width) >= 256 else 16 * (min(height, width) // 16)
        profile.update(tiled=True, blockxsize=block, blockysize=block)
    if crs is not None:
        profile["crs"] = crs
    if transform is not None:
        profile["transform"] = _affine(transform)
    return profile


def save_geotiff(path: Path, fused: Tensor, max_value: float, dtype: Dtype = "float32", crs: Any = None,
                 transform: Any = None, tags: dict[str, Any] | None = None) -> None:
    """One GeoTIFF band per spectral band on the data's DN scale, tiled and compressed; with the item's CRS
    and affine transform when the data carried them, and ``tags`` (``max_value``, ``sensor``, ``ratio``:
    what `rsmif score` reads back). The file is read back before it replaces anything."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    data = to_radiometric(fused, max_value, dtype)
    profile = geotiff_profile(data, crs, transform)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            # data without a georeference (the sample scene, .mat inputs) give a plain TIFF, on purpose
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(data)
                dst.update_tags(max_value=max_value, **{k: v for k, v in (tags or {}).items() if v is not None})

    def verify(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(tmp) as src:
                back = src.read()
        if back.shape != data.shape or not np.array_equal(back, data, equal_nan=True):
            raise RunFailure(f"{tmp}: the written image does not read back as written")

    atomic_write(path, write, verify)


def image_exporter(save: str, folder: Path, dtype: Dtype = "float32") -> Callable[[Tensor, ItemBatch, int], None]:
    """An ``on_batch`` callback for :func:`rsmif_core.evaluation.runner.evaluate` writing every fused image
    of the batch into ``folder`` as ``.mat`` (``save="mat"``) or GeoTIFF (``save="tif"``), named by its id."""

    def write(fused: Tensor, local: ItemBatch, index: int) -> None:
        batch = local.batch
        for i, image_id in enumerate(batch.meta.ids):
            extras = local.extras[i]
            name = safe_name(image_id)
            if save == "mat":
                info = {"id": image_id, "sensor": batch.meta.sensor, "task": batch.meta.task,
                        "ratio": batch.meta.ratio, "crs": extras.get("crs"), "transform": extras.get("transform")}
                save_mat(folder / f"{name}.mat", fused[i], batch.meta.max_value, info)
            else:
                save_geotiff(folder / f"{name}.tif", fused[i], batch.meta.max_value, dtype,
                             crs=extras.get("crs"), transform=extras.get("transform"),
                             tags={"sensor": batch.meta.sensor, "ratio": batch.meta.ratio})

    return write
