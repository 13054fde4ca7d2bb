"""What a data file or folder holds and what is wrong with it (``rsmif data info PATH``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsmif_core.data.errors import DataError
from rsmif_core.data.h5 import sample_indices
from rsmif_core.data.sensors import sensor_from_filename

DATA_SUFFIXES = (".h5", ".hdf5", ".tif", ".tiff", ".mat")
MAX_FOLDER_FILES = 64  # files of a folder described one by one

# key sets -> collection
COLLECTION_KEYS: dict[str, frozenset[str]] = {
    "pancollection": frozenset({"ms", "lms", "pan"}),
    "hyperpancollection": frozenset({"MS", "PAN"}),
    "ms-hs": frozenset({"LRHSI", "RGB"}),
}


@dataclass
class ArrayInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    minimum: float | None = None
    maximum: float | None = None
    note: str = ""


@dataclass
class PathInfo:
    path: str
    kind: str
    collection: str | None = None
    sensor: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    arrays: list[ArrayInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    children: list[PathInfo] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "kind": self.kind, "collection": self.collection, "sensor": self.sensor,
            "details": self.details,
            "arrays": [a.__dict__ for a in self.arrays],
            "problems": self.problems,
            "children": [c.as_dict() for c in self.children],
        }


def detect_collection(keys: set[str]) -> str | None:
    for name, needed in COLLECTION_KEYS.items():
        if needed <= keys:
            return name
    return None


def _range(values: np.ndarray) -> tuple[float | None, float | None]:
    if values.size == 0 or not np.issubdtype(values.dtype, np.number):
        return None, None
    finite = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values
    if finite.size == 0:
        return float("nan"), float("nan")
    return float(finite.min()), float(finite.max())


Progress = Callable[[str, int, int], None]  # (what, done, total)
SCAN_CHUNK = 32  # items read at a time while scanning (bounds memory on big files)
SHOWN_ITEMS = 8  # item indices named in a problem


def inspect_path(path: str | Path, sample: int | None = None, progress: Progress | None = None) -> PathInfo:
    """What ``path`` holds and what is wrong with it. Every item of an h5 file is checked for NaN/inf and for
    items without data (all zero), unless ``sample`` limits the check to that many evenly spread items;
    ``progress`` hears how far the scan is."""
    path = Path(path).expanduser()
    if not path.exists():
        return PathInfo(str(path), "missing", problems=["no such file or folder"])
    if path.is_dir():
        return _inspect_folder(path, sample, progress)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return _inspect_h5(path, sample, progress)
    if suffix in (".tif", ".tiff"):
        return _inspect_tif(path)
    if suffix == ".mat":
        return _inspect_mat(path)
    return PathInfo(str(path), "unknown", problems=[f"unsupported file type {suffix!r} (expected .h5, .tif, .mat)"])


@dataclass
class _Scan:
    """Value range and bad items of one dataset, accumulated chunk by chunk."""

    low: float | None = None
    high: float | None = None
    not_finite: list[int] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)

    def add(self, first: int, chunk: np.ndarray) -> None:
        flat = chunk.reshape(chunk.shape[0], -1)
        if np.issubdtype(flat.dtype, np.floating):
            bad = ~np.isfinite(flat).all(axis=1)
            self.not_finite += [first + int(i) for i in np.flatnonzero(bad)]
        self.empty += [first + int(i) for i in np.flatnonzero(~flat.any(axis=1))]
        low, high = _range(chunk)
        if low is not None and low == low:  # not NaN
            self.low = low if self.low is None else min(self.low, low)
            assert high is not None
            self.high = high if self.high is None else max(self.high, high)


def _items(indices: list[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:SHOWN_ITEMS])
    return shown + (f" and {len(indices) - SHOWN_ITEMS} more" if len(indices) > SHOWN_ITEMS else "")


def _scan(key: str, obj: Any, sample: int | None, progress: Progress | None) -> _Scan:
    count = int(obj.shape[0])
    scan = _Scan()
    if sample is not None:
        for i in sample_indices(count, sample):
            scan.add(i, np.asarray(obj[i : i + 1]))
        return scan
    for start in range(0, count, SCAN_CHUNK):
        scan.add(start, np.asarray(obj[start : start + SCAN_CHUNK]))
        if progress is not None:
            progress(key, min(start + SCAN_CHUNK, count), count)
    return scan


def _inspect_h5(path: Path, sample: int | None = None, progress: Progress | None = None) -> PathInfo:
    import h5py

    info = PathInfo(str(path), "h5")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        info.problems.append(f"not a readable HDF5 file (truncated or corrupt?): {exc}")
        return info
    with f:
        keys = set(f.keys())
        info.details["attrs"] = {k: (v.decode() if isinstance(v, bytes) else np.asarray(v).tolist()) for k, v in f.attrs.items()}
        for key in sorted(keys):
            obj = f[key]
            if not isinstance(obj, h5py.Dataset):
                info.arrays.append(ArrayInfo(key, (), "group"))
                continue
            item = ArrayInfo(key, tuple(int(s) for s in obj.shape), str(obj.dtype))
            try:
                if obj.ndim >= 3 and obj.shape[0] > 0:
                    scan = _scan(key, obj, sample, progress)
                    checked = obj.shape[0] if sample is None else len(sample_indices(obj.shape[0], sample))
                    item.note = f"every one of {checked} items checked" if sample is None else \
                        f"{checked} of {obj.shape[0]} items checked"
                    item.minimum, item.maximum = scan.low, scan.high
                    if scan.not_finite:
                        info.problems.append(f"key {key!r}: {len(scan.not_finite)} items hold NaN or infinite values "
                                             f"(items {_items(scan.not_finite)})")
                    if scan.empty:
                        info.problems.append(f"key {key!r}: {len(scan.empty)} items hold no data (all zero: items "
                                             f"{_items(scan.empty)})")
                else:
                    item.minimum, item.maximum = _range(np.asarray(obj[()]))
            except OSError as exc:
                info.problems.append(f"key {key!r}: cannot read values (truncated file?): {exc}")
            info.arrays.append(item)
    info.collection = detect_collection(keys)
    info.sensor = sensor_from_filename(path)
    if info.collection is None:
        info.problems.append(
            f"keys {sorted(keys)} match no known collection (pancollection gt/ms/lms/pan, hyperpancollection "
            f"GT/LMS/MS/PAN, ms-hs GT/HSI_up/LRHSI/RGB)"
        )
        return info
    try:
        ds = _open_collection(info.collection, path)
    except DataError as exc:
        info.problems.append(exc.problem)
    else:
        info.details.update(ds.describe())
        info.sensor = ds.sensor
    return info


def _open_collection(collection: str, path: Path) -> Any:
    from rsmif_core.data.hyperpancollection import HyperPanCollection
    from rsmif_core.data.mshs import MSHSCollection
    from rsmif_core.data.pancollection import PanCollection

    if collection == "pancollection":
        try:
            return PanCollection(path)
        except DataError as exc:
            if "sensor" not in exc.problem and "radiometric scale" not in exc.problem:
                raise
            # unknown sensor: still validate the layout, with a neutral scale
            ds = PanCollection(path, sensor="unknown", max_value=1.0)
            ds.sensor = f"unknown ({exc.problem.split(';')[0]})"
            return ds
    return (HyperPanCollection if collection == "hyperpancollection" else MSHSCollection)(path)


def _inspect_tif(path: Path) -> PathInfo:
    import rasterio

    info = PathInfo(str(path), "geotiff")
    try:
        with rasterio.open(path) as src:
            data = src.read()
            info.details.update(
                width=src.width, height=src.height, bands=src.count, crs=str(src.crs) if src.crs else None,
                resolution=tuple(src.res), bounds=tuple(src.bounds), nodata=src.nodata,
            )
            info.arrays.append(ArrayInfo("bands", tuple(data.shape), str(data.dtype), *_range(data)))
    except rasterio.errors.RasterioError as exc:
        info.problems.append(f"not a readable GeoTIFF: {exc}")
    return info


def _inspect_mat(path: Path) -> PathInfo:
    import scipy.io

    info = PathInfo(str(path), "mat")
    try:
        contents = scipy.io.loadmat(path)
        info.details["format"] = "MATLAB v5"
        arrays = {k: v for k, v in contents.items() if not k.startswith("__")}
    except NotImplementedError:
        import h5py

        info.details["format"] = "MATLAB v7.3 (HDF5)"
        with h5py.File(path, "r") as f:
            arrays = {k: np.asarray(v).T for k, v in f.items() if isinstance(v, h5py.Dataset) and not k.startswith("#")}
    except (ValueError, OSError) as exc:
        info.problems.append(f"not a readable MATLAB file: {exc}")
        return info
    for key, value in arrays.items():
        value = np.asarray(value)
        info.arrays.append(ArrayInfo(key, tuple(value.shape), str(value.dtype), *_range(value)))
    return info


def _inspect_folder(path: Path, sample: int | None = None, progress: Progress | None = None) -> PathInfo:
    s1_dirs = sorted(d.name for d in path.iterdir() if d.is_dir() and d.name.endswith("_s1") and d.name.startswith("ROIs"))
    if s1_dirs:
        return _inspect_sen12mscr(path, s1_dirs)
    info = PathInfo(str(path), "folder")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in DATA_SUFFIXES)
    if not files:
        # scenes kept one folder per patch (BigEarthNet, exported tiles): look below
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in DATA_SUFFIXES and p.is_file())
        if files:
            info.details["found_in_subfolders"] = len(files)
    if not files:
        info.problems.append("no .h5, .tif or .mat files (nor in subfolders) and no SEN12MS-CR ROIs*_s1 folders")
    if len(files) > MAX_FOLDER_FILES:
        info.details["shown"] = f"the first {MAX_FOLDER_FILES} of {len(files)} files"
    info.children = [inspect_path(p, sample, progress) for p in files[:MAX_FOLDER_FILES]]
    return info


def _inspect_sen12mscr(path: Path, s1_dirs: list[str]) -> PathInfo:
    from rsmif_core.data.sen12mscr import SEN12MSCR

    info = PathInfo(str(path), "folder", collection="sen12mscr", sensor="sentinel1+sentinel2")
    info.details["roi_folders"] = s1_dirs
    for split in ("train", "val", "test"):
        try:
            ds = SEN12MSCR(path, split=split)
        except DataError as exc:
            info.details[f"{split}_patches"] = 0
            if "no patches" not in exc.problem:
                info.problems.append(f"split {split}: {exc.problem}")
        else:
            info.details[f"{split}_patches"] = len(ds)
            info.details["patch_size"] = ds.size
    if not any(info.details.get(f"{s}_patches") for s in ("train", "val", "test")):
        info.problems.append("no patch belongs to an official split scene")
    return info


def format_info(info: PathInfo, indent: str = "") -> str:
    lines = [f"{indent}{info.path}  [{info.kind}{', ' + info.collection if info.collection else ''}]"]
    if info.sensor:
        lines.append(f"{indent}  sensor: {info.sensor}")
    for key, value in info.details.items():
        if key in ("keys", "path", "collection", "sensor"):
            continue
        lines.append(f"{indent}  {key}: {value}")
    for a in info.arrays:
        rng = "" if a.minimum is None else f"  range {a.minimum:.6g} … {a.maximum:.6g}"
        note = f"  ({a.note})" if a.note else ""
        lines.append(f"{indent}  {a.name}: {'×'.join(map(str, a.shape)) or '-'} {a.dtype}{rng}{note}")
    for p in info.problems:
        lines.append(f"{indent}  PROBLEM: {p}")
    if not info.problems and info.kind not in ("folder",):
        lines.append(f"{indent}  no problems found")
    for child in info.children:
        lines.append(format_info(child, indent + "  "))
    return "\n".join(lines)
