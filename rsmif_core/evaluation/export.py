"""Write fused images: .mat like the authors' test scripts, or GeoTIFF in the input's radiometric scale."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from rsmif_core.evaluation.runner import ItemBatch
from rsmif_core.io import atomic_write

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(image_id: str) -> str:
    """A file name from a sample id (ids may hold paths or odd characters)."""
    name = _UNSAFE.sub("_", str(image_id)).strip("._")
    return name or "image"


def save_mat(path: Path, fused: Tensor, max_value: float, info: dict[str, Any]) -> None:
    """One image as ``sr`` (H×W×C float32, raw / max_value — the scale of the authors' saved outputs).

    Extra keys say how to get back to the sensor's values: ``max_value`` (``sr * max_value`` is DN),
    ``scale`` (a sentence), and the sample's ``id``, ``sensor``, ``task`` and ``ratio``.
    """
    from scipy.io import savemat

    sr = fused.detach().float().cpu().permute(1, 2, 0).numpy().astype(np.float32)
    payload = {
        "sr": sr,
        "max_value": np.float64(max_value),
        "scale": "sr = raw / max_value; multiply by max_value for the sensor's digital numbers",
        **{k: v for k, v in info.items() if isinstance(v, (str, int, float))},
    }
    atomic_write(path, lambda tmp: savemat(tmp, payload, do_compression=True))


def to_radiometric(fused: Tensor, max_value: float, input_min: float) -> np.ndarray:
    """C×H×W array in the input's scale: uint16 when the input is non-negative integer DN up to 65535.

    Values are rounded and clipped to [0, max_value] for uint16 (slight over/undershoots of a network
    are not data); anything else (dB, reflectance with negatives, scales above 16 bits) stays float32.
    """
    values = fused.detach().double().cpu().numpy() * max_value
    integral = float(max_value).is_integer() and 1 < max_value <= 65535 and input_min >= 0
    if integral:
        return np.clip(np.rint(values), 0, max_value).astype(np.uint16)
    return values.astype(np.float32)


def save_geotiff(path: Path, fused: Tensor, max_value: float, input_min: float, crs: Any = None, transform: Any = None) -> None:
    """GeoTIFF (one band per spectral band); CRS and affine transform kept when the item carried them."""
    import rasterio
    from rasterio.transform import Affine

    data = to_radiometric(fused, max_value, input_min)
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": data.shape[1],
        "width": data.shape[2],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "compress": "deflate",
    }
    if crs is not None:
        profile["crs"] = crs
    if transform is not None:
        profile["transform"] = transform if isinstance(transform, Affine) else Affine(*list(transform)[:6])

    def write(tmp: Path) -> None:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data)

    atomic_write(path, write)


def image_exporter(save: str, folder: Path) -> Callable[[Tensor, ItemBatch, int], None]:
    """An ``on_batch`` callback for :func:`rsmif_core.evaluation.runner.evaluate` writing every fused image
    of the batch into ``folder`` as ``.mat`` (``save="mat"``) or GeoTIFF (``save="tif"``), named by its id."""

    def write(fused: Tensor, local: ItemBatch, index: int) -> None:
        batch = local.batch
        for i, image_id in enumerate(batch.meta.ids):
            extras = local.extras[i]
            name = safe_name(image_id)
            if save == "mat":
                info = {"id": image_id, "sensor": batch.meta.sensor, "task": batch.meta.task, "ratio": batch.meta.ratio}
                save_mat(folder / f"{name}.mat", fused[i], batch.meta.max_value, info)
            else:
                save_geotiff(folder / f"{name}.tif", fused[i], batch.meta.max_value, float(batch.lms[i].min()),
                             crs=extras.get("crs"), transform=extras.get("transform"))

    return write
