"""Small GeoTIFF scenes and run folders for the ``rsmif predict`` tests (importable: tests/ is on the path)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rasterio.crs import CRS
from rasterio.transform import Affine

from rsmif_core.config.load import to_yaml
from rsmif_core.config.schema import ModelSection, RunConfig
from rsmif_core.models.weights import save_weights
from rsmif_core.plugins.factory import create_model

UTM31 = CRS.from_epsg(32631)
ORIGIN = (593000.0, 5750400.0)  # upper-left corner (x, y) in UTM 31N
PAN_PIXEL = 0.5


def write_tif(path: Path, data: np.ndarray, transform: Affine | None, crs: Any = UTM31, nodata: float | None = None) -> Path:
    import rasterio

    profile: dict[str, Any] = {"driver": "GTiff", "height": data.shape[1], "width": data.shape[2], "count": data.shape[0],
                               "dtype": data.dtype.name}
    if transform is not None:
        profile.update(transform=transform, crs=crs)
    if nodata is not None:
        profile["nodata"] = nodata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # scenes without a georeference
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
    return path


def scene_arrays(height: int, width: int, ratio: int, bands: int, seed: int = 0, max_value: int = 2047
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A textured uint16 PAN 1×H×W and MS C×(H/r)×(W/r) (block means of a correlated high-resolution image)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / 17.0
    base = 0.5 + 0.25 * np.sin(x + 0.3 * y) * np.cos(0.7 * y) + 0.1 * rng.standard_normal((height, width))
    gains = np.linspace(0.6, 1.2, bands)[:, None, None]
    high = np.clip(base[None] * gains + 0.05 * rng.standard_normal((bands, height, width)), 0, 1)
    pan = np.clip(high.mean(0, keepdims=True) * max_value, 0, max_value).astype(np.uint16)
    ms = high.reshape(bands, height // ratio, ratio, width // ratio, ratio).mean(axis=(2, 4))
    return pan, np.rint(ms * max_value).astype(np.uint16)


def write_scene(folder: Path, height: int = 96, width: int = 128, ratio: int = 4, bands: int = 4, seed: int = 0,
                ms_offset: tuple[int, int] = (0, 0), pan_nodata: float | None = None, ms_nodata: float | None = None,
                ms_crs: Any = UTM31, ms_pixel: float | None = None, ms_shape: tuple[int, int] | None = None
                ) -> tuple[Path, Path]:
    """PAN and MS GeoTIFFs on matching grids; ``ms_offset`` (MS pixels, down and across) moves the MS's corner."""
    folder.mkdir(parents=True, exist_ok=True)
    pan, ms = scene_arrays(height, width, ratio, bands, seed)
    if ms_shape is not None:
        ms = ms[:, : ms_shape[0], : ms_shape[1]]
    x0, y0 = ORIGIN
    pan_t = Affine(PAN_PIXEL, 0, x0, 0, -PAN_PIXEL, y0)
    pixel = ms_pixel if ms_pixel is not None else PAN_PIXEL * ratio
    ms_t = Affine(pixel, 0, x0 + ms_offset[1] * pixel, 0, -pixel, y0 - ms_offset[0] * pixel)
    return (write_tif(folder / "pan.tif", pan, pan_t, nodata=pan_nodata),
            write_tif(folder / "ms.tif", ms, ms_t, crs=ms_crs, nodata=ms_nodata))


def make_run_folder(folder: Path, model: str, spectral_bands: int, ratio: int, guide_bands: int = 1,
                    max_value: float | None = 2047.0, seed: int = 0, **args: Any) -> Path:
    """A run folder as ``rsmif run`` leaves it (config.yaml with the resolved arguments, model.safetensors),
    with randomly initialised weights; ``max_value`` goes into a test_fr dataset section's arguments."""
    torch.manual_seed(seed)
    net = create_model(model, spectral_bands=spectral_bands, guide_bands=guide_bands, ratio=ratio, **args)
    cfg = RunConfig(model=ModelSection(name=model, args=dict(net.arguments)))
    cfg.trainer.output_dir = str(folder)
    if max_value is not None:
        cfg.data.test_fr = {"name": "sample", "args": {"task": "pansharpening", "split": "test_fr",  # type: ignore[assignment]
                                                       "scene": "synthetic", "bands": spectral_bands, "ratio": ratio}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(to_yaml(RunConfig.model_validate(cfg.model_dump())), encoding="utf-8")
    save_weights(net, folder / "model.safetensors", model, {"step": 0})
    return folder


def whole_image(model: torch.nn.Module, pan: np.ndarray, ms: np.ndarray, ratio: int, max_value: float) -> np.ndarray:
    """Whole-image inference as ``rsmif test`` would run it: lms by the training data's upsampler, [0, 1] scale."""
    from rsmif_core.data.h5 import upsample_lms
    from rsmif_core.types import Batch, BatchMeta

    lms = upsample_lms(ms.astype(np.float64) / max_value, ratio)
    batch = Batch(pan=torch.from_numpy(pan.astype(np.float32) / max_value)[None],
                  ms=torch.from_numpy((ms.astype(np.float64) / max_value).astype(np.float32))[None],
                  lms=torch.from_numpy(lms.astype(np.float32))[None], meta=BatchMeta(ratio=ratio, max_value=max_value))
    with torch.no_grad():
        return model.eval()(batch).fused[0].numpy()
