"""Read images written by any tool (.mat v5 / v7.3, .h5, .tif, .npy) as N×C×H×W float64 arrays.

Layout rules: MATLAB arrays (.mat, either version) are H×W×C(×N) in MATLAB order (v7.3 files are read
through h5py, which reverses the axes; we undo that). ``.h5`` and ``.npy`` 4-D arrays are N×C×H×W (the
PanCollection layout); 3-D ones are C×H×W when the first axis is the smallest, else H×W×C. GeoTIFFs are
read band-first by rasterio. A file with several arrays needs ``FILE::KEY`` unless one of the usual
names for the role is present.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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


def _read_h5(path: Path, reverse_axes: bool) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 and obj.dtype.kind in "biuf":
                data = np.asarray(obj[()])
                out[name] = data.transpose(tuple(reversed(range(data.ndim)))) if reverse_axes else data

        f.visititems(visit)
    return out


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


def read_image(path: Path, key: str | None = None, role: str = "fused") -> np.ndarray:
    """One array of ``path`` as N×C×H×W float64 (values unchanged)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            if key is not None:
                raise ImageReadError(f"{path}: a .npy file holds one array; drop '::{key}'")
            return _guess_to_nchw(np.load(path, allow_pickle=False)).astype(np.float64)
        if suffix in (".tif", ".tiff"):
            import rasterio

            with rasterio.open(path) as src:
                return src.read()[None].astype(np.float64)
        if suffix == ".mat":
            if _is_hdf5(path):
                arrays = _read_h5(path, reverse_axes=True)
            else:
                from scipy.io import loadmat

                arrays = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
            _, a = _pick(arrays, key, role, path)
            return _matlab_to_nchw(a).astype(np.float64)
        if suffix in (".h5", ".hdf5"):
            _, a = _pick(_read_h5(path, reverse_axes=False), key, role, path)
            return _guess_to_nchw(a).astype(np.float64)
    except ImageReadError:
        raise
    except Exception as exc:  # unreadable or corrupt file: one clear message
        raise ImageReadError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    raise ImageReadError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(SUFFIXES)}")


def read_images(spec: str, role: str) -> tuple[list[str], np.ndarray]:
    """All images of a file or directory spec, stacked: (ids, N×C×H×W)."""
    ids: list[str] = []
    arrays: list[np.ndarray] = []
    for path, key in list_images(spec):
        a = read_image(path, key, role)
        arrays.append(a)
        ids.extend([path.stem] if a.shape[0] == 1 else [f"{path.stem}[{i}]" for i in range(a.shape[0])])
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        raise ImageReadError(f"{spec}: images of different shapes {sorted(shapes)}; score them separately")
    return ids, np.concatenate(arrays, axis=0)


def check_same_count(named: Sequence[tuple[str, np.ndarray]]) -> None:
    counts = {name: a.shape[0] for name, a in named}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise ImageReadError(f"different numbers of images ({detail})")
