"""Generators of tiny data files in each collection's exact format (imported by tests/test_data_*.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

PAN_KEYS = {"gt": "gt", "ms": "ms", "lms": "lms", "pan": "pan"}
HYPER_KEYS = {"gt": "GT", "ms": "MS", "lms": "LMS", "pan": "PAN"}
MSHS_KEYS = {"gt": "GT", "ms": "LRHSI", "lms": "HSI_up", "pan": "RGB"}


def fusion_arrays(n: int = 4, bands: int = 4, size: int = 16, ratio: int = 4, guide: int = 1, scale: float = 2047.0,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """N×C×H×W float64 arrays in DN: gt, ms (block means of gt), lms (nearest upsampling of ms), pan."""
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.05, 0.95, (n, bands, size, size)) * scale
    low = size // ratio
    ms = gt.reshape(n, bands, low, ratio, low, ratio).mean(axis=(3, 5))
    lms = ms.repeat(ratio, axis=2).repeat(ratio, axis=3)
    pan = np.repeat(gt.mean(axis=1, keepdims=True), guide, axis=1)
    return {"gt": gt, "ms": ms, "lms": lms, "pan": pan}


def write_h5(path: Path, arrays: dict[str, np.ndarray], keys: dict[str, str], drop: Sequence[str] = (),
             channels_last: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for role, array in arrays.items():
            if role in drop:
                continue
            f[keys[role]] = np.transpose(array, (0, 2, 3, 1)) if channels_last else array
    return path


def write_pancollection(path: Path, full: bool = False, **kwargs: object) -> Path:
    arrays = fusion_arrays(**kwargs)  # type: ignore[arg-type]
    return write_h5(path, arrays, PAN_KEYS, drop=("gt",) if full else ())


def write_tif(path: Path, array: np.ndarray, crs: str = "EPSG:32632", origin: tuple[float, float] = (500000.0, 5000000.0),
              pixel: float = 10.0) -> Path:
    import rasterio
    from rasterio.transform import Affine

    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "width": array.shape[2], "height": array.shape[1], "count": array.shape[0],
               "dtype": array.dtype.name, "crs": crs, "transform": Affine(pixel, 0.0, origin[0], 0.0, -pixel, origin[1])}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
    return path


def write_sen12mscr_triplet(root: Path, roi: str, scene: int, patch: int, s1: np.ndarray, s2: np.ndarray,
                            cloudy: np.ndarray, modalities: Sequence[str] = ("s1", "s2", "s2_cloudy"),
                            origins: dict[str, tuple[float, float]] | None = None) -> None:
    """One SEN12MS-CR patch: ``<root>/<roi>_<mod>/<mod>_<scene>/<roi>_<mod>_<scene>_p<patch>.tif``."""
    arrays = {"s1": s1, "s2": s2, "s2_cloudy": cloudy}
    for mod in modalities:
        origin = (origins or {}).get(mod, (500000.0, 5000000.0))
        write_tif(root / f"{roi}_{mod}" / f"{mod}_{scene}" / f"{roi}_{mod}_{scene}_p{patch}.tif", arrays[mod], origin=origin)


def random_triplet(size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s1 = rng.uniform(-30.0, 2.0, (2, size, size)).astype(np.float32)
    s2 = rng.integers(0, 12000, (13, size, size)).astype(np.uint16)
    cloudy = np.clip(s2.astype(np.int32) + 3000, 0, 65535).astype(np.uint16)
    return s1, s2, cloudy


def write_sen12mscr_tree(root: Path, scenes: dict[str, Sequence[tuple[str, int]]], patches: int = 2, size: int = 16
                         ) -> Path:
    """A tiny tree with ``patches`` triplets per (roi, scene) of each split's scene list."""
    seed = 0
    for pairs in scenes.values():
        for roi, scene in pairs:
            for k in range(1, patches + 1):
                write_sen12mscr_triplet(root, roi, scene, k, *random_triplet(size, seed))
                seed += 1
    return root


def write_mat73(path: Path, name: str, array: np.ndarray) -> Path:
    """A MATLAB v7.3 file (HDF5, column-major: h5py sees the axes reversed) holding one H×W[×C] array."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f[name] = np.ascontiguousarray(array.T)
        f[name].attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2026 HDF5 schema 1.00 ."
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")
    return path
