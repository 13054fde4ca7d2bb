"""Read images written by any tool (.mat v5 / v7.3, .h5, .tif, .npy) as N×C×H×W float64 arrays.

Layout rules: MATLAB arrays (.mat, either version) are H×W×C(×N) in MATLAB order (v7.3 files are read
through h5py, which reverses the axes; we undo that). ``.h5`` and ``.npy`` 4-D arrays are N×C×H×W (the
PanCollection layout); 3-D ones are C×H×W when the first axis is the smallest, else H×W×C. GeoTIFFs are
read band-first by rasterio. A file with several arrays needs ``FILE::KEY`` unless one of the usual
names for the role is present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsmif_core.errors import UsageError

SUFFIXES: tuple[str, ...] = (".mat", ".h5", ".hdf5", ".tif", ".tiff", ".npy")
ROLE_KEYS: dict[str, tuple[str, ...]] = {
    "fused": ("sr", "fused", "I_F", "output", "out", "result", "pred", "ps"),
    "reference": ("gt", "I_GT", "ref", "reference", "GT"),
    "pan": ("pan", "I_PAN", "PAN"),
    "ms": ("ms", "I_MS_LR", "MS"),
    "lms": ("lms", "I_MS", "LMS"),
}


class ImageReadError(UsageError):
    """A file that cannot be read as an image, with the reason."""


# What a file may record about its images (h5 attributes, .mat variables, GeoTIFF tags): RSMIF's own
# outputs and `rsmif data simulate` files write these names.
META_KEYS = ("max_value", "sensor", "ratio")


@dataclass
class ImageSet:
    """The images of one role (stacked N×C×H×W float64), their ids, and what their files record."""

    ids: list[str]
    array: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    meta_source: dict[str, str] = field(default_factory=dict)  # key -> the file it came from
    from_folder: bool = False


def _plain(value: Any) -> Any:
    """A recorded scalar as a Python value (MATLAB and HDF5 wrap scalars and strings in arrays/bytes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":
            return _plain(value.reshape(-1)[0]) if value.size else ""
        if value.size == 1:
            return value.reshape(-1)[0].item()
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _recorded(source: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key in META_KEYS:
        if key in source:
            value = _plain(source[key])
            if value not in (None, ""):
                out[key] = value
    return out


def split_key(spec: str) -> tuple[Path, str | None]:
    path, _, key = spec.partition("::")
    return Path(path), key or None


def list_images(spec: str) -> list[tuple[Path, str | None]]:
    """A file (optionally ``FILE::KEY``) or every readable image file in a directory, sorted by name."""
    path, key = split_key(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise ImageReadError(f"{path}: no image files ({', '.join(SUFFIXES)}) in this directory")
        return [(p, key) for p in files]
    if not path.exists():
        raise ImageReadError(f"{path}: no such file or directory")
    return [(path, key)]


def _pick(arrays: dict[str, np.ndarray], key: str | None, role: str, path: Path) -> tuple[str, np.ndarray]:
    numeric = {k: v for k, v in arrays.items() if isinstance(v, np.ndarray) and v.dtype.kind in "biuf" and v.ndim >= 2}
    if key is not None:
        if key not in numeric:
            raise ImageReadError(f"{path}: no array {key!r}; arrays found: {', '.join(sorted(numeric)) or 'none'}")
        return key, numeric[key]
    for name in ROLE_KEYS.get(role, ()):
        if name in numeric:
            return name, numeric[name]
    if len(numeric) == 1:
        return next(iter(numeric.items()))
    raise ImageReadError(
        f"{path}: {len(numeric)} arrays ({', '.join(sorted(numeric)) or 'none'}) and none named like a {role} "
        f"image ({', '.join(ROLE_KEYS.get(role, ()))}); choose one with {path}::KEY"
    )


def _read_h5(path: Path, reverse_axes: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The image arrays of an HDF5 file (a MATLAB v7.3 .mat too) and what it records (file attributes, or
    small top-level datasets such as a .mat's scalar variables)."""
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 and obj.dtype.kind in "biuf":
                data = np.asarray(obj[()])
                out[name] = data.transpose(tuple(reversed(range(data.ndim)))) if reverse_axes else data

        f.visititems(visit)
        recorded = {k: f.attrs[k] for k in META_KEYS if k in f.attrs}
        for key in META_KEYS:
            if key not in recorded and key in f and isinstance(f[key], h5py.Dataset) and f[key].size <= 1:
                recorded[key] = f[key][()]
    return out, _recorded(recorded)


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(512)
    return b"\x89HDF\r\n\x1a\n" in head


def _matlab_to_nchw(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        return a[None, None]
    if a.ndim == 3:
        return a.transpose(2, 0, 1)[None]
    if a.ndim == 4:
        return a.transpose(3, 2, 0, 1)
    raise ImageReadError(f"expected 2 to 4 dimensions, found shape {a.shape}")


def _guess_to_nchw(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        return a[None, None]
    if a.ndim == 3:
        return (a if a.shape[0] <= min(a.shape[1:]) else a.transpose(2, 0, 1))[None]
    if a.ndim == 4:
        return a
    raise ImageReadError(f"expected 2 to 4 dimensions, found shape {a.shape}")


def read_image(path: Path, key: str | None = None, role: str = "fused") -> tuple[np.ndarray, dict[str, Any]]:
    """One array of ``path`` as N×C×H×W float64 (values unchanged), and what the file records about it."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            if key is not None:
                raise ImageReadError(f"{path}: a .npy file holds one array; drop '::{key}'")
            return _guess_to_nchw(np.load(path, allow_pickle=False)).astype(np.float64), {}
        if suffix in (".tif", ".tiff"):
            import warnings

            import rasterio
            from rasterio.errors import NotGeoreferencedWarning

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)  # georeferencing plays no part in a score
                with rasterio.open(path) as src:
                    return src.read()[None].astype(np.float64), _recorded(src.tags())
        if suffix == ".mat":
            if _is_hdf5(path):
                arrays, recorded = _read_h5(path, reverse_axes=True)
            else:
                from scipy.io import loadmat

                variables = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
                arrays, recorded = variables, _recorded(variables)
            _, a = _pick(arrays, key, role, path)
            return _matlab_to_nchw(a).astype(np.float64), recorded
        if suffix in (".h5", ".hdf5"):
            arrays, recorded = _read_h5(path, reverse_axes=False)
            _, a = _pick(arrays, key, role, path)
            return _guess_to_nchw(a).astype(np.float64), recorded
    except ImageReadError:
        raise
    except Exception as exc:  # unreadable or corrupt file: one clear message
        raise ImageReadError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    raise ImageReadError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(SUFFIXES)}")


def read_images(spec: str, role: str) -> ImageSet:
    """All images of a file or directory spec, stacked, with their ids (file stems; ``stem[i]`` for the
    images of a multi-image file) and what the files record (files that record different values for the
    same key are an error)."""
    path, _ = split_key(spec)
    ids: list[str] = []
    arrays: list[np.ndarray] = []
    meta: dict[str, Any] = {}
    meta_source: dict[str, str] = {}
    for file, key in list_images(spec):
        a, recorded = read_image(file, key, role)
        arrays.append(a)
        ids.extend([file.stem] if a.shape[0] == 1 else [f"{file.stem}[{i}]" for i in range(a.shape[0])])
        for name, value in recorded.items():
            if name in meta and meta[name] != value:
                raise ImageReadError(f"{file}: records {name} {value!r}, but {meta_source[name]} records "
                                     f"{meta[name]!r}; score them separately")
            meta.setdefault(name, value)
            meta_source.setdefault(name, str(file))
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        raise ImageReadError(f"{spec}: images of different shapes {sorted(shapes)}; score them separately")
    return ImageSet(ids, np.concatenate(arrays, axis=0), meta, meta_source, from_folder=path.is_dir())


def pair_by_id(reference: ImageSet, other: ImageSet, role: str) -> ImageSet:
    """``other``'s images in ``reference``'s order, matched by id; any unmatched name is an error."""
    missing = [i for i in reference.ids if i not in other.ids]
    extra = [i for i in other.ids if i not in reference.ids]
    if missing or extra:
        def listed(names: list[str]) -> str:
            return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")

        parts = ([f"no {role} image for fused {listed(missing)}"] if missing else []) + (
            [f"no fused image for {role} {listed(extra)}"] if extra else [])
        raise ImageReadError(f"the folders pair their images by file name: {'; '.join(parts)}")
    order = [other.ids.index(i) for i in reference.ids]
    return ImageSet(list(reference.ids), other.array[order], other.meta, other.meta_source, other.from_folder)


def check_same_count(named: Sequence[tuple[str, np.ndarray]]) -> None:
    counts = {name: a.shape[0] for name, a in named}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise ImageReadError(f"different numbers of images ({detail})")
