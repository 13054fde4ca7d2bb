"""``rsmif data simulate``: full-resolution PAN + MS scenes -> PanCollection-format h5 files and a manifest.

Each scene goes through the Wald protocol (``wald.reduce_resolution``) after its no-data pixels are filled
(``nodata``); ``layout`` cuts it into spatially disjoint training, validation and test strips and says how
large patches and tiles are. Patches and tiles touching no-data are dropped and counted. The files:

* ``train_<name>.h5``, ``valid_<name>.h5``: reduced-resolution patches with reference;
* ``test_<name>_multiExm1.h5``: reduced-resolution test tiles with reference;
* ``test_<name>_OrigScale_multiExm1.h5``: full-resolution test tiles (no reference), each tile's ``lms``
  interpolated from that tile's MS alone, as the toolbox's full-resolution examples are;
* ``rsmif-data.yaml``: the manifest (``manifest.py``).

Every h5 file records ``sensor``, ``ratio``, ``max_value``, ``mtf_gains``, the protocol and the sources as
attributes, and where each item came from in ``source/origin`` (N×3: scene, PAN row, PAN column of its
top-left pixel); test files hold the CRS and transform of each tile in ``georef/crs`` and ``georef/transform``.
All files are written into a temporary folder inside the output folder and moved into place only when
every one of them is complete, so a failure changes nothing in the output folder.

Differences from the toolbox demo (``Demo_DataSimu_*.m`` + ``segImg_new.m``): test tiles never overlap
training patches, and validation patches lie in their own strip (the toolbox splits overlapping patches
at random); negative input DN (noise in reflectance products) are clipped to 0 and counted.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsmif_core.data import layout
from rsmif_core.data.errors import DataError
from rsmif_core.data.h5 import GEOREF_GROUP
from rsmif_core.data.manifest import FORMAT, MANIFEST_NAME, manifest_text, split_file_names
from rsmif_core.data.nodata import expand, fill_nearest, scene_validity
from rsmif_core.data.rasters import Raster, check_pair
from rsmif_core.errors import RunFailure
from rsmif_core.io import atomic_write, describe_os_error

SOURCE_GROUP = "source"
ORIGIN_COLUMNS = ("scene (index into the manifest's scenes), PAN row, PAN column of the item's top-left pixel in "
                  "its scene")
TRANSFORM_ORDER = "a, b, c, d, e, f of the affine map (x, y) = (a·col + b·row + c, d·col + e·row + f)"


@dataclass(frozen=True)
class SimulationOptions:
    """How to simulate; None: from the data (ratio from the grids, scale from the sensor or an 8-bit input,
    gains from the sensor's table, sizes to fit the scenes)."""

    sensor: str
    ratio: int | None = None
    max_value: float | None = None
    mtf_gains: Sequence[float] | None = None
    name: str | None = None
    pan_method: str = "mtf"
    request: layout.Request = field(default_factory=layout.Request)


@dataclass
class SimulationReport:
    out: Path
    files: dict[str, Path]
    counts: dict[str, int]
    dropped: dict[str, int]  # patches and tiles dropped for touching no-data, per split
    manifest: Path
    sizes: layout.Sizes
    ratio: int
    sensor: str
    max_value: float
    mtf_gains: tuple[float, ...]
    notes: list[str]


@dataclass
class PreparedScene:
    """One scene aligned to the ratio, its no-data filled, and its reduced-resolution pair."""

    label: str
    pan: Raster
    ms: Raster
    pan_full: np.ndarray  # Cg×H×W
    ms_full: np.ndarray  # C×h×w
    valid: np.ndarray  # h×w: the MS pixel and the PAN pixels under it hold data
    extent: layout.Extent
    reduced: dict[str, np.ndarray] = field(default_factory=dict)
    strips: layout.Strips | None = None
    windows: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def pan_transform(self) -> Any:
        """The PAN grid's affine transform (from the MS grid when only the MS is georeferenced)."""
        if self.pan.transform is not None:
            return self.pan.transform
        if self.ms.transform is not None:
            from rasterio.transform import Affine

            ratio = self.pan_full.shape[-1] // self.ms_full.shape[-1]
            return self.ms.transform @ Affine.scale(1.0 / ratio)
        return None

    @property
    def crs(self) -> str | None:
        crs = self.pan.crs if self.pan.crs is not None else self.ms.crs
        return None if crs is None else str(crs.to_string())


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Refuse an output path that is a file, lies under a file, or is a folder that already holds files
    (unless ``overwrite``)."""
    if out.exists() and not out.is_dir():
        raise DataError(out, "the output must be a folder; this is a file")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataError(out, f"cannot create the output folder: {parent} is a file")
            break
    if out.is_dir() and not overwrite:
        entries = sorted(entry.name for entry in out.iterdir())
        if entries:
            shown = ", ".join(entries[:4]) + (f", … ({len(entries)} in all)" if len(entries) > 4 else "")
            raise DataError(out, f"the output folder already holds files ({shown}); pass --overwrite to replace "
                            "the files `data simulate` writes (any other file is kept)")


def simulate(scenes: Sequence[tuple[Raster, Raster]], out: str | Path, options: SimulationOptions,
             overwrite: bool = False) -> SimulationReport:
    """Simulate every (PAN, MS) scene of ``scenes`` and write the files and the manifest into ``out``."""
    out = Path(out).expanduser()
    check_output_folder(out, overwrite)
    if not scenes:
        raise DataError(None, "no scene given: pass a PAN and an MS image")
    name = options.name or options.sensor.lower()
    if not re.fullmatch(r"[\w.+-]+", name):
        raise DataError(None, f"name {name!r} must be usable in a file name (letters, digits, '_', '-', '.', '+')")
    ratio = _common_ratio(scenes, options.ratio)
    request = options.request
    layout.check_request(request, ratio)
    from rsmif_core.data.wald import PAN_METHODS, resolve_mtf_gains

    if options.pan_method not in PAN_METHODS:
        raise DataError(None, f"unknown PAN degradation {options.pan_method!r}; expected one of {', '.join(PAN_METHODS)}")
    bands = scenes[0][1].bands
    choice = resolve_mtf_gains(options.sensor, bands, options.mtf_gains, label="--mtf-gains")
    gains, gains_source = choice.gains, choice.source
    notes: list[str] = []
    if choice.subset:
        notes.append(f"MTF gains {', '.join(f'{g:g}' for g in gains)}: {gains_source} (--mtf-gains overrides)")
    max_value = radiometric_scale(options.sensor, options.max_value, scenes)
    labels = [_label(pan, ms, i, len(scenes)) for i, (pan, ms) in enumerate(scenes)]
    prepared = [prepare_scene(label, pan, ms, ratio, notes) for label, (pan, ms) in zip(labels, scenes)]
    notes.extend(_range_notes(prepared, max_value))
    sizes, size_notes = layout.choose_sizes([(s.label, s.extent) for s in prepared], ratio, request)
    notes.extend(size_notes)
    for scene in prepared:
        _plan(scene, ratio, sizes, request)
    _check_counts(prepared, request)
    names = {split: file for split, file in split_file_names(name).items() if _count(prepared, split)}
    _check_targets(out, [*names.values(), MANIFEST_NAME])
    from rsmif_core.data.wald import reduce_resolution

    for scene in prepared:
        scene.reduced = reduce_resolution(scene.pan_full, scene.ms_full, options.sensor, ratio,
                                          pan_method=options.pan_method, mtf_gains=gains)
    context = _Context(options, ratio, max_value, gains, gains_source, sizes, prepared, names)
    notes.extend(_leftovers(out, names))
    _write_all(out, names, context)
    return SimulationReport(
        out=out, files={split: out / file for split, file in names.items()},
        counts={split: _count(prepared, split) for split in names},
        dropped={split: sum(s.dropped.get(split, 0) for s in prepared) for split in layout_splits(request)},
        manifest=out / MANIFEST_NAME, sizes=sizes, ratio=ratio, sensor=options.sensor, max_value=max_value,
        mtf_gains=gains, notes=notes,
    )


def layout_splits(request: layout.Request) -> tuple[str, ...]:
    return ("train", "valid", "test", "test_fr") if request.split < 1.0 else ("train", "test", "test_fr")


def _label(pan: Raster, ms: Raster, index: int, count: int) -> str:
    pair = f"{pan.path.name} + {ms.path.name}"
    return pair if count == 1 else f"scene {index + 1} ({pair})"


def _common_ratio(scenes: Sequence[tuple[Raster, Raster]], ratio: int | None) -> int:
    found = [check_pair(pan, ms, ratio) for pan, ms in scenes]
    first_pan, first_ms = scenes[0]
    for (pan, ms), r in zip(scenes[1:], found[1:]):
        if r != found[0]:
            raise DataError(pan.path, f"ratio {r} differs from the first scene's {found[0]} ({first_pan.path}); "
                            "every scene of one simulation needs the same ratio")
        if ms.bands != first_ms.bands or pan.bands != first_pan.bands:
            raise DataError(ms.path, f"{pan.bands}-band guide and {ms.bands}-band MS differ from the first scene's "
                            f"{first_pan.bands} and {first_ms.bands} bands ({first_ms.path})")
    return found[0]


def radiometric_scale(sensor: str, max_value: float | None, scenes: Sequence[tuple[Raster, Raster]]) -> float:
    """The largest DN of the product: ``max_value`` when given, else the sensor's, else 255 for 8-bit input."""
    from rsmif_core.data.sensors import sensor_max_value

    if max_value is not None:
        if not max_value > 0:
            raise DataError(None, f"max value must be positive, found {max_value:g}")
        return float(max_value)
    found = sensor_max_value(sensor)
    if found is not None:
        return found
    if all(pan.dtype == "uint8" and ms.dtype == "uint8" for pan, ms in scenes):
        return 255.0
    dtypes = sorted({r.dtype for pair in scenes for r in pair})
    raise DataError(None, f"no known radiometric scale for sensor {sensor!r} and {'/'.join(dtypes)} "
                    "input: pass --max-value (the largest DN of the product, e.g. 2047 for 11-bit data)")


def prepare_scene(label: str, pan: Raster, ms: Raster, ratio: int, notes: list[str]) -> PreparedScene:
    h = min(ms.hw[0], pan.hw[0] // ratio) // ratio * ratio
    w = min(ms.hw[1], pan.hw[1] // ratio) // ratio * ratio
    if h == 0 or w == 0:
        raise DataError(ms.path, f"the scene (MS {ms.hw[0]}×{ms.hw[1]}) is smaller than {ratio} MS pixels")
    assert pan.valid is not None and ms.valid is not None
    valid = scene_validity(pan.valid[: h * ratio, : w * ratio], ms.valid[:h, :w], ratio)
    extent = layout.valid_extent(valid, ratio)
    if extent is None:
        raise DataError(ms.path, f"no ground holds data in both images ({pan.path}): every pixel is no-data "
                        "(the nodata value, NaN or all bands 0)")
    pan_full = np.array(pan.array[:, : h * ratio, : w * ratio])
    ms_full = np.array(ms.array[:, :h, :w])
    pan_valid = expand(valid, ratio)
    negative = int(np.count_nonzero(ms_full[:, valid] < 0) + np.count_nonzero(pan_full[:, pan_valid] < 0))
    fill_nearest(ms_full, valid)
    fill_nearest(pan_full, pan_valid)
    np.maximum(ms_full, 0, out=ms_full)
    np.maximum(pan_full, 0, out=pan_full)
    missing = int(valid.size - np.count_nonzero(valid))
    if missing:
        notes.append(f"{label}: {missing} of {valid.size} MS pixels ({100 * missing / valid.size:.1f}%) hold no data "
                     "in the PAN or the MS (nodata value, NaN or all bands 0); patches and tiles touching them are "
                     "dropped")
    if negative:
        notes.append(f"{label}: {negative} negative input values were clipped to 0")
    return PreparedScene(label, pan, ms, pan_full, ms_full, valid, extent)


def _range_notes(scenes: Sequence[PreparedScene], max_value: float) -> list[str]:
    notes = []
    for scene in scenes:
        top = float(max(scene.ms_full.max(), scene.pan_full.max()))
        if top > max_value * 1.001:
            notes.append(f"{scene.label}: values reach {top:g}, above the scale {max_value:g}: items will exceed 1 "
                         "(set --max-value to the product's largest DN)")
    return notes


def _plan(scene: PreparedScene, ratio: int, sizes: layout.Sizes, request: layout.Request) -> None:
    strips = layout.scene_strips(scene.extent, ratio, sizes, request)
    scene.strips = strips
    rows = {"train": strips.train, "valid": strips.valid, "test": strips.test}
    for split, span in rows.items():
        if span is None:
            continue
        size, stride = (sizes.test_size, sizes.test_size) if split == "test" else (sizes.patch, sizes.stride)
        corners = layout.windows(span, strips.cols, size, stride)
        kept = layout.with_data(corners, scene.valid, size)
        scene.windows[split], scene.dropped[split] = kept, len(corners) - len(kept)
    fr_rows = (strips.test[0] * ratio, strips.test[1] * ratio)
    fr_cols = (strips.cols[0] * ratio, strips.cols[1] * ratio)
    corners = layout.windows(fr_rows, fr_cols, sizes.fr_size, sizes.fr_size)
    kept = [(t, c) for t, c in corners
            if scene.valid[t // ratio : (t + sizes.fr_size) // ratio, c // ratio : (c + sizes.fr_size) // ratio].all()]
    scene.windows["test_fr"], scene.dropped["test_fr"] = kept, len(corners) - len(kept)


def _count(scenes: Sequence[PreparedScene], split: str) -> int:
    return sum(len(s.windows.get(split, ())) for s in scenes)


_SPLIT_WORDS = {"train": "training patches", "valid": "validation patches", "test": "reduced-resolution test tiles",
                "test_fr": "full-resolution test tiles"}


def _check_counts(scenes: Sequence[PreparedScene], request: layout.Request) -> None:
    """Refuse a split left without items (every one touched no-data): its file would be missing."""
    for split in layout_splits(request):
        if _count(scenes, split):
            continue
        cut = sum(len(s.windows.get(split, ())) + s.dropped.get(split, 0) for s in scenes)
        where = "; ".join(f"{s.label}: rows {_rows(s, split)} of the reduced grid" for s in scenes)
        raise DataError(
            None,
            f"too few {_SPLIT_WORDS[split]} remain for the {split} split: all {cut} cut touch no-data ({where}); "
            "give smaller sizes (--patch, --test-size, --fr-size), another --test-fraction or --split, or a scene "
            "with more ground holding data",
        )


def _rows(scene: PreparedScene, split: str) -> str:
    assert scene.strips is not None
    span = {"train": scene.strips.train, "valid": scene.strips.valid}.get(split, scene.strips.test)
    return "none" if span is None else f"{span[0]}–{span[1]}"


def _check_targets(out: Path, names: Sequence[str]) -> None:
    for name in names:
        target = out / name
        if target.exists() and not target.is_file():
            raise DataError(target, "the simulation writes a file here, but this is a folder; move it away")


def _leftovers(out: Path, names: dict[str, str]) -> list[str]:
    """A note naming the files an earlier manifest in ``out`` listed that this run does not replace."""
    import yaml

    path = out / MANIFEST_NAME
    if not path.is_file():
        return []
    try:
        earlier = yaml.safe_load(path.read_text(encoding="utf-8"))
        listed = {entry["file"] for entry in earlier["splits"].values()}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return []
    kept = sorted(f for f in listed - set(names.values()) if (out / f).is_file())
    return [f"kept from the earlier simulation (no longer in {MANIFEST_NAME}): {', '.join(kept)}"] if kept else []


# -- writing ------------------------------------------------------------------------------------------


@dataclass
class _Context:
    options: SimulationOptions
    ratio: int
    max_value: float
    gains: tuple[float, ...]
    gains_source: str
    sizes: layout.Sizes
    scenes: list[PreparedScene]
    names: dict[str, str]  # split -> file name


def _items(context: _Context, split: str) -> Iterator[tuple[int, PreparedScene, tuple[int, int], dict[str, np.ndarray]]]:
    """(scene index, scene, corner, arrays) of every item of ``split``, scene by scene."""
    from rsmif_core.data.h5 import upsample_lms

    r, sizes = context.ratio, context.sizes
    for index, scene in enumerate(context.scenes):
        for top, left in scene.windows.get(split, ()):
            if split == "test_fr":
                s = sizes.fr_size
                ms = scene.ms_full[:, top // r : (top + s) // r, left // r : (left + s) // r]
                yield index, scene, (top, left), {
                    "pan": scene.pan_full[:, top : top + s, left : left + s], "ms": ms, "lms": upsample_lms(ms, r)}
                continue
            s = sizes.test_size if split == "test" else sizes.patch
            arrays = {key: scene.reduced[key][:, top : top + s, left : left + s] for key in ("gt", "lms", "pan")}
            arrays["ms"] = scene.reduced["ms"][:, top // r : (top + s) // r, left // r : (left + s) // r]
            yield index, scene, (top, left), arrays


def _shapes(context: _Context, split: str, count: int) -> dict[str, tuple[int, ...]]:
    first_pan, first_ms = context.scenes[0].pan, context.scenes[0].ms
    r = context.ratio
    size = {"test": context.sizes.test_size, "test_fr": context.sizes.fr_size}.get(split, context.sizes.patch)
    shapes: dict[str, tuple[int, ...]] = {"lms": (count, first_ms.bands, size, size), "ms": (count, first_ms.bands, size // r, size // r),
              "pan": (count, first_pan.bands, size, size)}
    if split != "test_fr":
        shapes["gt"] = (count, first_ms.bands, size, size)
    return shapes


def _tile_georef(scene: PreparedScene, split: str, corner: tuple[int, int], ratio: int) -> tuple[str, list[float]]:
    """The CRS and transform of a test tile: full resolution on the PAN grid, reduced resolution on the PAN
    grid scaled by the ratio (the MS pixel size); ``("", NaN…)`` for a scene without georeferencing."""
    transform = scene.pan_transform
    if transform is None:
        return "", [float("nan")] * 6
    from rasterio.transform import Affine

    top, left = corner
    if split == "test_fr":
        tile = transform @ Affine.translation(left, top)
    else:
        tile = transform @ Affine.translation(left * ratio, top * ratio) @ Affine.scale(ratio)
    return scene.crs or "", [float(v) for v in tuple(tile)[:6]]


def _sources(context: _Context) -> list[dict[str, Any]]:
    sources = []
    for scene in context.scenes:
        entry: dict[str, Any] = {}
        for role, raster in (("pan", scene.pan), ("ms", scene.ms)):
            entry[role] = str(raster.path.resolve())
            entry[f"{role}_size"] = [raster.bands, *raster.hw]
            entry[f"{role}_dtype"] = raster.dtype
            if raster.key is not None:
                entry[f"{role}_key"] = raster.key
            if raster.nodata is not None:
                entry[f"{role}_nodata"] = raster.nodata
        transform = scene.pan_transform
        entry["crs"] = scene.crs
        entry["pan_transform"] = None if transform is None else [float(v) for v in tuple(transform)[:6]]
        entry["nodata_ms_pixels"] = int(scene.valid.size - np.count_nonzero(scene.valid))
        assert scene.strips is not None
        entry["rows"] = scene.strips.as_dict()
        entry["items"] = {split: len(w) for split, w in scene.windows.items()}
        entry["dropped_for_nodata"] = dict(scene.dropped)
        sources.append(entry)
    return sources


def _protocol(context: _Context) -> dict[str, Any]:
    sizes, request = context.sizes, context.options.request
    pan = (f"its MTF-matched filter (Nyquist gain {_pan_gain(context.options.sensor):g}), then decimation"
           if context.options.pan_method == "mtf" else "MATLAB bicubic imresize by 1/ratio (DLPan resize_images.m)")
    return {
        "name": "wald",
        "ms": "sensor MTF-matched filter (mtf_gains), then decimation by the ratio (toolbox resize_images.m)",
        "pan": pan,
        "pan_method": context.options.pan_method,
        "lms": "23-tap interpolator (toolbox interp23tap.m)" if context.ratio & (context.ratio - 1) == 0
        else "MATLAB bicubic imresize (no 23-tap filter for this ratio)",
        "nodata": "pixels with the nodata value, NaN or all bands 0 are filled from the nearest pixel with data "
                  "before filtering; patches and tiles touching them are dropped",
        "layout": "per scene, top to bottom: training patches, validation patches, test tiles (disjoint strips "
                  "of the area with data); full-resolution test tiles cover the reduced-resolution test strip",
        "patch": sizes.patch, "stride": sizes.stride, "test_size": sizes.test_size, "fr_size": sizes.fr_size,
        "split": request.split, "test_fraction": request.test_fraction,
    }


def _pan_gain(sensor: str) -> float:
    """The PAN filter's gain as ``wald.reduce_resolution`` uses it (a sensor without a table: the generic one)."""
    from rsmif_core.ops.mtf import GENERIC_PAN_GAIN, UnknownSensorError, pan_gain

    try:
        return pan_gain(sensor)
    except UnknownSensorError:
        return GENERIC_PAN_GAIN


def _attrs(context: _Context, split: str) -> dict[str, Any]:
    """What the manifest says, on every file (JSON text where the value is nested)."""
    import json

    return {
        "sensor": context.options.sensor, "ratio": context.ratio, "max_value": context.max_value,
        "mtf_gains": np.asarray(context.gains, dtype=np.float64), "mtf_gains_source": context.gains_source,
        "split": split, "resolution": "full" if split == "test_fr" else "reduced",
        "protocol": json.dumps(_protocol(context)), "source": json.dumps(_sources(context)),
        "files": json.dumps(context.names), "written_by": _written_by(), "manifest": MANIFEST_NAME,
    }


def _written_by() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"rsmif {version('rsmif')} data simulate"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "rsmif data simulate"


def _georeferenced(context: _Context) -> bool:
    return any(scene.pan_transform is not None for scene in context.scenes)


def _write_h5(path: Path, context: _Context, split: str, tiles: list[dict[str, Any]]) -> None:
    import h5py

    count = _count(context.scenes, split)
    shapes = _shapes(context, split, count)
    test = split in ("test", "test_fr")
    with h5py.File(path, "w") as f:
        datasets = {key: f.create_dataset(key, shape=shape, dtype=np.float64, chunks=(1, *shape[1:]))
                    for key, shape in sorted(shapes.items())}
        crs, transforms, origins = [], [], []
        scale = 1 if split == "test_fr" else context.ratio
        for i, (index, scene, corner, arrays) in enumerate(_items(context, split)):
            for key, values in arrays.items():
                datasets[key][i] = values
            origins.append((index, corner[0] * scale, corner[1] * scale))
            if test:
                tile_crs, transform = _tile_georef(scene, split, corner, context.ratio)
                crs.append(tile_crs)
                transforms.append(transform)
                tiles.append({"item": i, "scene": index, "pan_row": corner[0] * scale, "pan_col": corner[1] * scale,
                              "crs": tile_crs or None,
                              "transform": None if np.isnan(transform[0]) else transform})
        f.attrs.update(_attrs(context, split))
        origin = f.create_group(SOURCE_GROUP).create_dataset("origin", data=np.array(origins, dtype=np.int64))
        origin.attrs["columns"] = ORIGIN_COLUMNS
        if test and _georeferenced(context):
            group = f.create_group(GEOREF_GROUP)
            group.create_dataset("crs", data=np.array(crs, dtype=object), dtype=h5py.string_dtype())
            group.create_dataset("transform", data=np.array(transforms, dtype=np.float64))
            group.attrs["transform_order"] = TRANSFORM_ORDER
            group.attrs["grid"] = "PAN grid" if split == "test_fr" else "PAN grid × ratio (the MS pixel size)"


def _h5_writer(context: _Context, split: str, tiles: list[dict[str, Any]]) -> Callable[[Path], None]:
    return lambda path: _write_h5(path, context, split, tiles)


def _verify_h5(context: _Context, split: str) -> Callable[[Path], None]:
    def verify(path: Path) -> None:
        import h5py

        count = _count(context.scenes, split)
        with h5py.File(path, "r") as f:
            for key, shape in _shapes(context, split, count).items():
                if key not in f or f[key].shape != shape:
                    found = f[key].shape if key in f else "missing"
                    raise OSError(f"read back {key!r} as {found}, expected {shape}")
            if f[f"{SOURCE_GROUP}/origin"].shape != (count, 3):
                raise OSError("read back a source/origin of the wrong shape")
            if split in ("test", "test_fr") and _georeferenced(context):
                if f[f"{GEOREF_GROUP}/transform"].shape != (count, 6):
                    raise OSError("read back a georef/transform of the wrong shape")

    return verify


def _manifest(context: _Context, names: dict[str, str], tiles: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    sizes = {"train": context.sizes.patch, "valid": context.sizes.patch, "test": context.sizes.test_size,
             "test_fr": context.sizes.fr_size}
    splits: dict[str, Any] = {}
    for split, file in names.items():
        entry: dict[str, Any] = {"file": file, "items": _count(context.scenes, split),
                                 "resolution": "full" if split == "test_fr" else "reduced",
                                 "guide_size": sizes[split], "reference": split != "test_fr"}
        if split in tiles:
            entry["grid"] = "PAN grid" if split == "test_fr" else "PAN grid × ratio (the MS pixel size)"
            entry["tiles"] = tiles[split]
        splits[split] = entry
    return {
        "format": FORMAT,
        "written_by": _written_by(),
        "task": "pansharpening",
        "sensor": context.options.sensor,
        "ratio": context.ratio,
        "bands": context.scenes[0].ms.bands,
        "guide_bands": context.scenes[0].pan.bands,
        "max_value": context.max_value,
        "mtf_gains": [float(g) for g in context.gains],
        "mtf_gains_source": context.gains_source,
        "georeferenced": _georeferenced(context),
        "transform_order": TRANSFORM_ORDER,
        "protocol": _protocol(context),
        "scenes": _sources(context),
        "splits": splits,
    }


def _write_all(out: Path, names: dict[str, str], context: _Context) -> None:
    """Write every file into a temporary folder inside ``out``, then move them into place (the manifest last)."""
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".rsmif-simulate-", dir=out))
    except OSError as exc:
        raise RunFailure(f"could not write to {out}: {describe_os_error(exc)}; nothing was written") from None
    try:
        tiles: dict[str, list[dict[str, Any]]] = {}
        for split, file in names.items():
            listed = tiles.setdefault(split, []) if split in ("test", "test_fr") else []
            atomic_write(staging / file, _h5_writer(context, split, listed), _verify_h5(context, split))
        text = manifest_text(_manifest(context, names, tiles))
        atomic_write(staging / MANIFEST_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"), _verify_manifest)
        for file in [*names.values(), MANIFEST_NAME]:
            os.replace(staging / file, out / file)
    except RunFailure as exc:
        raise RunFailure(f"{exc.message.replace(str(staging) + os.sep, str(out) + os.sep)}; nothing in {out} "
                         "was changed") from None
    except OSError as exc:
        raise RunFailure(f"could not move the written files into {out}: {describe_os_error(exc)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()


def _verify_manifest(path: Path) -> None:
    import yaml

    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise OSError("the manifest did not read back")
