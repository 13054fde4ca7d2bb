"""``rsmif data sample``: write a sample scene to disk in its collection's own format.

Pansharpening -> PanCollection h5 files, hyperspectral -> HyperPanCollection keys, ms-hs -> the
CAVE-style keys, sar-optical -> a SEN12MS-CR folder tree of GeoTIFFs (one scene per official split).
Values are written in DN (the in-memory sample times ``max_value``), so the readers give the sample back.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from rsmif_core.data.sample import SampleSplits, sample_splits

KEYS = {
    "pansharpening": {"gt": "gt", "ms": "ms", "lms": "lms", "pan": "pan"},
    "hyperspectral": {"gt": "GT", "ms": "MS", "lms": "LMS", "pan": "PAN"},
    "ms-hs": {"gt": "GT", "ms": "LRHSI", "lms": "HSI_up", "pan": "RGB"},
}
FILE_NAMES = {"train": "train_{}.h5", "val": "valid_{}.h5", "test": "test_{}_multiExm1.h5",
              "test_fr": "test_{}_OrigScale_multiExm1.h5"}
# SEN12MS-CR scenes of the official train / val / test lists that receive the sample patches
SEN12MSCR_SCENES = {"train": ("ROIs1158_spring", 1), "val": ("ROIs1158_spring", 17), "test": ("ROIs1158_spring", 106)}


def write_sample(task: str, out: str | Path, scene: str | None = None, seed: int = 0) -> list[Path]:
    data = sample_splits(task, scene, None, None, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if task == "sar-optical":
        return _write_sen12mscr(data, out)
    written = _write_h5(data, out)
    if data.scene == "landsat7":  # the attribution travels with the imagery
        from importlib import resources

        licence = out / "LICENSE-landsat7.md"
        licence.write_text(resources.files("rsmif_core.data.sample_data").joinpath("LICENSE-landsat7.md").read_text(
            encoding="utf-8"), encoding="utf-8")
        written.append(licence)
    return written


def _write_h5(data: SampleSplits, out: Path) -> list[Path]:
    keys = KEYS[data.task]
    written = []
    for split, arrays in data.splits.items():
        path = out / FILE_NAMES[split].format(data.scene)
        with h5py.File(path, "w") as f:
            for role, array in arrays.items():
                f.create_dataset(keys[role], data=array.astype(np.float64) * data.max_value, chunks=(1,) + array.shape[1:])
            f.attrs.update(sensor=data.sensor, max_value=data.max_value, ratio=data.ratio, source=f"rsmif sample {data.scene}")
        written.append(path)
    return written


def _write_sen12mscr(data: SampleSplits, out: Path) -> list[Path]:
    import rasterio
    from rasterio.transform import Affine

    written = []
    for split, (roi, n) in SEN12MSCR_SCENES.items():
        arrays = data.splits[split]
        s1_db = arrays["pan"].astype(np.float32) * 25.0 - 25.0
        s2 = np.round(arrays["gt"] * 10000.0).astype(np.uint16)
        cloudy = np.round(arrays["ms"] * 10000.0).astype(np.uint16)
        for k in range(s1_db.shape[0]):
            size = s1_db.shape[-1]
            transform = Affine(10.0, 0.0, 500000.0 + 10.0 * size * k, 0.0, -10.0, 5000000.0 - 10000.0 * n)
            for modality, values in (("s1", s1_db[k]), ("s2", s2[k]), ("s2_cloudy", cloudy[k])):
                folder = out / f"{roi}_{modality}" / f"{modality}_{n}"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{roi}_{modality}_{n}_p{k + 1}.tif"
                profile = {"driver": "GTiff", "width": size, "height": size, "count": values.shape[0],
                           "dtype": values.dtype.name, "crs": "EPSG:32632", "transform": transform}
                with rasterio.open(path, "w", **profile) as dst:
                    dst.write(values)
                written.append(path)
    return written
