"""The shared lazy reader of fusion collections stored as h5 files of N×C×H×W arrays.

Creation validates the file (keys, layout, band counts, ratio, a sample of values) and closes it again;
each process (the main one or a DataLoader worker) opens its own handle on its first read and reads one
item (or one crop of one item) at a time, never the whole file. ``__getitems__`` (what a DataLoader asks
for when the dataset has it) writes a whole batch straight into one stacked tensor, in shared memory
inside a worker, which ``rsmif_core.collate`` keeps as it is.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from rsmif_core.data.augment import (
    EpochAware,
    Orientation,
    SharedEpoch,
    Window,
    choose_orientation,
    choose_window,
    item_rng,
)
from rsmif_core.data.errors import DataError, did_you_mean
from rsmif_core.data.h5map import MappedDatasets
from rsmif_core.types import StackedItems, shape_text

# How many items (spread evenly over the file, first and last included) are checked for NaN and
# negative values at creation: checking all of a 6 GB training file would take minutes.
VALUE_CHECK_ITEMS = 8
_FLOAT64 = h5py.h5t.py_create(np.dtype("float64"))
# Standard radiometric scales a detected value range is rounded up to.
STANDARD_SCALES: tuple[float, ...] = (1.0, 255.0, 1023.0, 2047.0, 4095.0, 10000.0, 65535.0)
# The group of per-item georeferencing (``rsmif data simulate``'s test files): ``crs`` (N strings, "" for
# none) and ``transform`` (N×6: a, b, c, d, e, f of the affine map; NaN for none).
GEOREF_GROUP = "georef"


@dataclass
class H5Layout:
    """What validation found in a file."""

    keys: dict[str, str]  # our name (pan, ms, lms, gt) -> the key in the file
    count: int
    spectral_bands: int
    guide_bands: int
    high_hw: tuple[int, int]
    low_hw: tuple[int, int]
    ratio: int
    observed: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (min, max) over checked items


def list_keys(f: h5py.File) -> list[str]:
    return sorted(f.keys())


def resolve_key(f: h5py.File, wanted: str, path: Path) -> str | None:
    """The file's key for ``wanted``: exact, else the one key equal ignoring case, else None."""
    if wanted in f:
        return wanted
    matches = [k for k in f.keys() if k.lower() == wanted.lower()]
    return matches[0] if len(matches) == 1 else None


def missing_key_error(path: Path, f: h5py.File, wanted: str, role: str, claimed: frozenset[str] = frozenset()) -> DataError:
    """Name the missing key, suggest a close unclaimed key (one no other field uses), list every key."""
    keys = list_keys(f)
    unclaimed = [k for k in keys if k not in claimed]
    return DataError(
        path,
        f"missing key {wanted!r} ({role}){did_you_mean(wanted, unclaimed)}; the file holds keys: "
        f"{', '.join(repr(k) for k in keys) or 'none'}",
    )


def channels_last(shapes: Mapping[str, tuple[int, ...]]) -> bool:
    """N×H×W×C instead of N×C×H×W, judged from how the keys relate (not from one shape alone).

    Channels first, the guide has few bands on axis 1 and the spectral keys share axis 1 (bands) while
    their spatial sizes differ by the ratio. Channels last, the guide's few bands are on axis 3 and the
    spectral keys share axis 3.
    """
    if any(len(s) != 4 for s in shapes.values()):
        return False
    pan = shapes["pan"]
    if pan[3] <= 3 < pan[1]:
        return True
    ms = shapes["ms"]
    for other in ("lms", "gt"):
        if other in shapes:
            o = shapes[other]
            return ms[3] == o[3] and ms[1] != o[1]
    return False


def open_h5(path: Path) -> h5py.File:
    if not path.exists():
        raise DataError(path, "no such file")
    if not path.is_file():
        raise DataError(path, "expected an h5 file, found a folder")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file (truncated or corrupt?): {exc}") from None


def detect_scale(observed_max: float) -> float:
    """Round an observed maximum up to the nearest standard scale (1, 255, 1023, 2047, 4095, 10000, 65535)."""
    for scale in STANDARD_SCALES:
        if observed_max <= scale * 1.02:
            return scale
    return float(observed_max)


def sample_indices(count: int, n: int = VALUE_CHECK_ITEMS) -> list[int]:
    return sorted({int(i) for i in np.linspace(0, count - 1, num=min(count, n))})


class H5FusionDataset(EpochAware, Dataset[dict[str, Any]]):
    """Base of the h5 collections: subclasses name the keys, the task and how the scale is chosen.

    ``roles`` maps our field names to file keys; ``optional`` lists fields a file may lack (``gt`` in
    full-resolution files; ``lms`` where it can be computed). Items are dicts of float32 tensors
    (raw / ``max_value``) plus ``task``, ``sensor``, ``ratio``, ``max_value`` and ``id``.
    ``memory_map=False`` reads every item through HDF5 instead of the file's memory map (see ``h5map``),
    e.g. for a file on a network filesystem.
    """

    collection: ClassVar[str] = "h5"
    task: str = "pansharpening"
    roles: ClassVar[dict[str, str]] = {"gt": "gt", "ms": "ms", "lms": "lms", "pan": "pan"}
    optional: ClassVar[frozenset[str]] = frozenset({"gt"})
    # Fields whose values are DN and may not be negative (lms is interpolated: overshoot is normal).
    non_negative: ClassVar[frozenset[str]] = frozenset({"gt", "ms", "pan"})

    def __init__(
        self,
        path: str | Path,
        sensor: str | None = None,
        max_value: float | None = None,
        ratio: int | None = None,
        crop: int | None = None,
        augment: bool = False,
        seed: int = 0,
        check_values: bool = True,
        memory_map: bool = True,
    ) -> None:
        self._sensor_arg = sensor
        self._max_value_arg = max_value
        self.path = Path(path).expanduser()
        self.augment = bool(augment)
        self.seed = int(seed)
        self.memory_map = bool(memory_map)
        self._epoch = SharedEpoch()
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._datasets: dict[str, h5py.Dataset] = {}
        # reused read buffers and memory dataspaces by field and hyperslab count, per process (see _read) and
        # per thread (threads reading one dataset must not share them)
        self._scratch: dict[tuple[int, str, tuple[int, ...]], tuple[np.ndarray, Any]] = {}
        self._spaces: dict[tuple[int, str], Any] = {}  # each field's file dataspace, reselected for every read
        self._mapped: MappedDatasets | None = None  # per process, see h5map
        with open_h5(self.path) as f:
            self.layout = self._validate(f, ratio, check_values)
            self.attrs: dict[str, Any] = {k: _plain(v) for k, v in f.attrs.items()}
            self._configure(f)
            self.mtf_gains = self._recorded_gains()
            self._georef = self._read_georef(f)
        self.ratio = self.layout.ratio
        self.spectral_bands = self.layout.spectral_bands
        self.guide_bands = self.layout.guide_bands
        self.has_reference = "gt" in self.layout.keys
        self.crop = self._check_crop(crop)

    # -- subclass hooks -------------------------------------------------------------------------
    def _configure(self, f: h5py.File) -> None:
        """Set ``sensor`` and ``max_value`` (the file is open and validated)."""
        raise NotImplementedError

    def _compute_lms(self, ms: np.ndarray) -> np.ndarray:
        raise DataError(self.path, "this collection needs an 'lms' key")

    # -- validation ----------------------------------------------------------------------------
    def _validate(self, f: h5py.File, ratio: int | None, check_values: bool) -> H5Layout:
        path = self.path
        keys: dict[str, str] = {}
        for role, wanted in self.roles.items():
            key = resolve_key(f, wanted, path)
            if key is None:
                if role in self.optional:
                    continue
                claimed = frozenset(k for k in (resolve_key(f, w, path) for w in self.roles.values()) if k)
                raise missing_key_error(path, f, wanted, _ROLE_NAMES[role], claimed)
            if not isinstance(f[key], h5py.Dataset):
                raise DataError(path, f"key {key!r} is a group, expected an N×C×H×W array")
            keys[role] = key
        shapes = {role: tuple(int(s) for s in f[key].shape) for role, key in keys.items()}
        for role, shape in shapes.items():
            key = keys[role]
            if len(shape) != 4:
                raise DataError(path, f"key {key!r} has shape {shape_text(shape)}; expected 4 dimensions N×C×H×W")
        pan_shape = shapes["pan"]
        if channels_last(shapes):
            listing = ", ".join(f"{keys[r]!r} {shape_text(s)}" for r, s in shapes.items())
            raise DataError(
                path,
                f"the arrays look like N×H×W×C (channels last): {listing}; {self.collection} files are "
                f"N×C×H×W: transpose with numpy.transpose(a, (0, 3, 1, 2)) when writing the file",
            )
        count = pan_shape[0]
        for role, shape in shapes.items():
            if shape[0] != count:
                raise DataError(
                    path, f"key {keys[role]!r} holds {shape[0]} items but {keys['pan']!r} holds {count}"
                )
        if count == 0:
            raise DataError(path, "the file holds no items (first dimension 0)")
        bands = shapes["ms"][1]
        for role in ("lms", "gt"):
            if role in shapes and shapes[role][1] != bands:
                raise DataError(
                    path,
                    f"band counts disagree: {keys[role]!r} has {shapes[role][1]} bands, {keys['ms']!r} has {bands}",
                )
        high = pan_shape[2:]
        for role in ("lms", "gt"):
            if role in shapes and shapes[role][2:] != high:
                raise DataError(
                    path,
                    f"key {keys[role]!r} is {shape_text(shapes[role][2:])} pixels but {keys['pan']!r} is "
                    f"{shape_text(high)}; they must share the guide grid",
                )
        low = shapes["ms"][2:]
        found = self._ratio_from_shapes(high, low)
        if ratio is not None and int(ratio) != found:
            raise DataError(
                path,
                f"ratio {ratio} does not match the shapes: {keys['pan']!r} {shape_text(high)} / {keys['ms']!r} "
                f"{shape_text(low)} gives ratio {found}",
            )
        layout = H5Layout(keys, count, bands, pan_shape[1], (high[0], high[1]), (low[0], low[1]), found)
        if check_values:
            self._check_values(f, layout)
        return layout

    def _ratio_from_shapes(self, high: tuple[int, ...], low: tuple[int, ...]) -> int:
        ry, rx = high[0] / low[0], high[1] / low[1]
        if ry != rx or ry != int(ry) or ry < 1:
            raise DataError(
                self.path,
                f"the guide grid {shape_text(high)} is not an integer multiple of the spectral grid {shape_text(low)} "
                f"(ratios {ry:g} and {rx:g})",
            )
        return int(ry)

    def _check_values(self, f: h5py.File, layout: H5Layout) -> None:
        for role, key in layout.keys.items():
            lo, hi = math.inf, -math.inf
            for i in sample_indices(layout.count):
                try:
                    values = np.asarray(f[key][i])
                except OSError as exc:
                    raise DataError(
                        self.path, f"cannot read item {i} of key {key!r} (truncated file?): {exc}"
                    ) from None
                if not np.isfinite(values).all():
                    raise DataError(self.path, f"key {key!r} item {i} holds NaN or infinite values")
                vmin, vmax = float(values.min()), float(values.max())
                # FFT filtering leaves ~1e-9 negatives around zero DN: not worth an error
                if role in self.non_negative and vmin < -1e-6 * max(1.0, abs(vmax)):
                    raise DataError(
                        self.path,
                        f"key {key!r} item {i} holds negative values (min {vmin:g}); {_ROLE_NAMES[role]} "
                        f"must be non-negative DN or reflectance",
                    )
                lo, hi = min(lo, vmin), max(hi, vmax)
            layout.observed[role] = (lo, hi)

    def _recorded_gains(self) -> tuple[float, ...] | None:
        """The MS MTF gains the file records (attribute ``mtf_gains``), checked; None when it records none."""
        value = self.attrs.get("mtf_gains")
        if value is None:
            return None
        gains = np.atleast_1d(np.asarray(value, dtype=np.float64))
        bands = self.layout.spectral_bands
        if gains.ndim != 1 or gains.size != bands or not ((gains > 0) & (gains < 1)).all():
            raise DataError(self.path, f"attribute 'mtf_gains' holds {gains.tolist()}; expected {bands} gains "
                            "(one per spectral band), each above 0 and below 1")
        return tuple(float(g) for g in gains)

    def _read_georef(self, f: h5py.File) -> tuple[list[str], np.ndarray] | None:
        """Each item's CRS and affine transform (group ``georef``), checked; None when the file has none."""
        group = f.get(GEOREF_GROUP)
        if group is None:
            return None
        count = self.layout.count
        try:
            crs = [_plain(c) for c in np.asarray(group["crs"][()]).ravel()]
            transforms = np.asarray(group["transform"][()], dtype=np.float64)
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise DataError(self.path, f"group {GEOREF_GROUP!r} is unreadable ({exc}); expected datasets 'crs' "
                            f"({count} strings) and 'transform' ({count}×6)") from None
        if len(crs) != count or transforms.shape != (count, 6):
            raise DataError(self.path, f"group {GEOREF_GROUP!r} holds {len(crs)} CRS and transforms "
                            f"{shape_text(transforms.shape)} for {count} items; expected {count} and {count}×6")
        return [str(c) for c in crs], transforms

    def _check_crop(self, crop: int | None) -> int | None:
        if crop is None:
            return None
        crop = int(crop)
        h, w = self.layout.high_hw
        if crop < self.ratio or crop % self.ratio or crop > min(h, w):
            raise DataError(
                self.path,
                f"crop {crop} must be a multiple of the ratio {self.ratio} and at most the item size {h}×{w}",
            )
        return crop

    # -- reading --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.layout.count

    def _handle(self) -> h5py.File:
        pid = os.getpid()
        if self._file is None or self._pid != pid:
            # a handle inherited through fork is not safe to share: every process opens its own
            self._file = h5py.File(self.path, "r")
            self._pid = pid
            # looking a dataset up by name costs more than reading a 64×64 item: do it once per handle
            self._datasets = {role: self._file[key] for role, key in self.layout.keys.items()}
            self._scratch = {}
            self._spaces = {}
            self._mapped = MappedDatasets(self.path, self._datasets) if self.memory_map else None
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        state["_datasets"] = {}
        state["_scratch"] = {}
        state["_spaces"] = {}
        state["_mapped"] = None
        return state

    def close(self) -> None:
        if self._mapped is not None and self._pid == os.getpid():
            self._mapped.close()
        self._mapped = None
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._pid = None
        self._datasets = {}
        self._scratch = {}
        self._spaces = {}

    def _read(self, role: str, index: int, where: tuple[slice, slice] | None) -> np.ndarray:
        """One item (or a window of it) as float64: a view of the file's memory map where the dataset
        is a plain float64 block (see ``h5map``), else read through h5py's low-level API (the high-level
        ``ds[i]`` spends as long parsing the selection as copying a 64×64 item), into a buffer this
        process reuses for every read of that shape: a fresh array per read costs page faults, and a
        reused one stays in the CPU cache for the scaling that follows."""
        mapped = self._mapped.arrays.get(role) if self._mapped is not None else None
        if mapped is not None:  # a view of the page cache, no copy (see h5map)
            return mapped[index] if where is None else mapped[index, :, where[0], where[1]]
        ds = self._datasets[role]
        _, bands, height, width = ds.shape
        if where is None:
            start, count = (index, 0, 0, 0), (1, bands, height, width)
        else:
            rows, cols = where
            start = (index, 0, rows.start, cols.start)
            count = (1, bands, rows.stop - rows.start, cols.stop - cols.start)
        thread = threading.get_ident()
        cached = self._scratch.get((thread, role, count))
        if cached is None:
            buffer = np.empty(count[1:], dtype=np.float64)
            cached = self._scratch[(thread, role, count)] = (buffer, h5py.h5s.create_simple(count))
        out, memory_space = cached
        file_space = self._spaces.get((thread, role))
        if file_space is None:
            file_space = self._spaces[(thread, role)] = ds.id.get_space()
        file_space.select_hyperslab(start, count)  # replaces the previous selection
        ds.id.read(memory_space, file_space, out, mtype=_FLOAT64)
        return out

    def _index(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.path.name}: index {index} out of range for {len(self)} items")
        return int(index) % len(self)

    def _read_item(self, index: int, window: Window | None) -> dict[str, np.ndarray]:
        """One item's arrays in file units (DN), cropped to ``window``: views of the file's memory map
        or the reused buffers of :meth:`_read`, valid until the next read or release."""
        self._handle()
        low = window.low() if window else None
        high = window.high(self.ratio) if window else None
        out = {"pan": self._read("pan", index, high), "ms": self._read("ms", index, low)}
        if "lms" in self.layout.keys:
            out["lms"] = self._read("lms", index, high)
        else:
            full = self._compute_lms(np.array(self._read("ms", index, None)))
            out["lms"] = full if high is None else full[:, high[0], high[1]]
        if "gt" in self.layout.keys:
            out["gt"] = self._read("gt", index, high)
        return out

    def read_raw(self, index: int) -> dict[str, np.ndarray]:
        """One item's arrays in file units (DN), cropped if ``crop`` is set, before augmentation."""
        index = self._index(index)
        raw = {role: np.array(values) for role, values in self._read_item(index, self._window(index)).items()}
        self._release()
        return raw

    def _window(self, index: int) -> Window | None:
        if self.crop is None:
            return None
        rng = item_rng(self.seed, self.epoch, index) if self.augment else None
        return choose_window(rng, self.layout.low_hw, self.crop, self.ratio)

    def _orientation(self, index: int) -> Orientation | None:
        if not self.augment:
            return None
        return choose_orientation(item_rng(self.seed, self.epoch, index, stream=1))

    def _item_shapes(self, orient: Orientation | None) -> dict[str, tuple[int, int, int]]:
        """The shape of each field of an item after cropping and orientation."""
        lay = self.layout
        high, low = lay.high_hw, lay.low_hw
        if self.crop is not None:
            high, low = (self.crop, self.crop), (self.crop // self.ratio, self.crop // self.ratio)
        if orient is not None and orient.rotations % 2:
            high, low = (high[1], high[0]), (low[1], low[0])
        shapes = {"pan": (lay.guide_bands, *high), "ms": (lay.spectral_bands, *low), "lms": (lay.spectral_bands, *high)}
        if self.has_reference:
            shapes["gt"] = (lay.spectral_bands, *high)
        return shapes

    def _fill(self, index: int, out: Mapping[str, np.ndarray], orient: Orientation | None) -> None:
        """Read item ``index`` and write it, scaled to float32 and oriented, into ``out`` (one
        C×H×W float32 array per field): the one code path of ``__getitem__`` and ``__getitems__``."""
        scale = 1.0 / self.max_value
        for role, values in self._read_item(index, self._window(index)).items():
            source = values if orient is None else orient.view(values)
            np.multiply(source, scale, out=out[role], casting="same_kind")
        # after every item, not every batch: a fault maps a whole page-cache folio (up to megabytes), so
        # a batch of 32 64×64 items (19 MB of data) left ~60 MB, on a freshly written file ~190 MB mapped
        self._release()

    def _release(self) -> None:
        if self._mapped is not None:
            self._mapped.release()

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self._index(index)
        orient = self._orientation(index)
        tensors = {role: torch.empty(shape, dtype=torch.float32) for role, shape in self._item_shapes(orient).items()}
        self._fill(index, {role: t.numpy() for role, t in tensors.items()}, orient)
        item: dict[str, Any] = dict(tensors)
        item.update(self.meta(index))
        return item

    def __getitems__(self, indices: Sequence[int]) -> list[Mapping[str, Any]]:
        """A batch of items (what a DataLoader worker asks for), equal to ``[self[i] for i in indices]``.

        Every field of the batch is written straight into one stacked float32 tensor (in shared memory
        inside a DataLoader worker, as torch's default collate does), so the worker neither stacks nor
        copies the batch again to hand it to the main process; ``rsmif_core.collate`` keeps the stacked
        tensors. One buffer holds all fields: the main process maps one shared-memory block per batch.
        Items are scaled one by one straight from the file's memory map (see ``h5map``) or from the
        reused, cache-resident buffers of :meth:`_read`; one h5py read per field of the whole (sorted)
        batch into a batch-sized float64 array took 24-54% more CPU per batch than the latter (measured
        on a WV3-geometry file, batch 32).
        """
        positions = [self._index(i) for i in indices]
        orients = [self._orientation(i) for i in positions]
        shapes = self._item_shapes(orients[0] if orients else None)
        if not positions or any(self._item_shapes(o) != shapes for o in orients[1:]):
            unstacked: list[Mapping[str, Any]] = [self[i] for i in positions]
            return unstacked  # quarter turns of non-square items: shapes differ
        count = len(positions)
        sizes = {role: count * math.prod(shape) for role, shape in shapes.items()}
        flat = _batch_buffer(sum(sizes.values()))
        stacked: dict[str, torch.Tensor] = {}
        offset = 0
        for role, shape in shapes.items():
            stacked[role] = flat[offset : offset + sizes[role]].view(count, *shape)
            offset += sizes[role]
        arrays = {role: t.numpy() for role, t in stacked.items()}
        for j, (index, orient) in enumerate(zip(positions, orients)):
            self._fill(index, {role: a[j] for role, a in arrays.items()}, orient)
        views = {role: t.unbind(0) for role, t in stacked.items()}  # one call per field, not per item
        items: list[Mapping[str, Any]] = [
            {**{role: v[j] for role, v in views.items()}, **self.meta(index)} for j, index in enumerate(positions)
        ]
        return StackedItems(items, stacked)

    def meta(self, index: int) -> dict[str, Any]:
        """An item's fields beside the images; ``mtf_gains`` when the file records them, and ``crs`` and
        ``transform`` (6 floats, rasterio's ``Affine`` order) when it georeferences its items."""
        meta: dict[str, Any] = {
            "task": self.task,
            "sensor": self.sensor,
            "ratio": self.ratio,
            "max_value": self.max_value,
            "id": f"{self.path.stem}/{index}",
        }
        if self.mtf_gains is not None:
            meta["mtf_gains"] = self.mtf_gains
        if self._georef is not None:
            crs, transforms = self._georef
            transform = transforms[index]
            meta["crs"] = crs[index] or None
            meta["transform"] = None if np.isnan(transform).any() else tuple(float(v) for v in transform)
        return meta

    def describe(self) -> dict[str, Any]:
        lay = self.layout
        return {
            "collection": self.collection,
            "path": str(self.path),
            "task": self.task,
            "sensor": self.sensor,
            "items": lay.count,
            "spectral_bands": lay.spectral_bands,
            "guide_bands": lay.guide_bands,
            "ratio": lay.ratio,
            "guide_size": lay.high_hw,
            "spectral_size": lay.low_hw,
            "max_value": self.max_value,
            "mtf_gains": self.mtf_gains,
            "georeferenced": self._georef is not None,
            "has_reference": self.has_reference,
            "keys": lay.keys,
            "observed_range": lay.observed,
        }

    def __repr__(self) -> str:
        lay = self.layout
        return (
            f"{type(self).__name__}({str(self.path)!r}, items={lay.count}, sensor={self.sensor!r}, "
            f"bands={lay.spectral_bands}+{lay.guide_bands}, ratio={lay.ratio}, max_value={self.max_value:g})"
        )

    sensor: str = "none"
    max_value: float = 1.0
    mtf_gains: tuple[float, ...] | None = None  # the MS MTF gains the file records (None: use the sensor's)
    _georef: tuple[list[str], np.ndarray] | None = None


_ROLE_NAMES: Mapping[str, str] = {
    "gt": "the reference image",
    "ms": "the low-resolution spectral image",
    "lms": "the spectral image upsampled to the guide grid",
    "pan": "the guide image",
}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _batch_buffer(numel: int) -> torch.Tensor:
    """A float32 tensor of ``numel`` values: in shared memory inside a DataLoader worker (allocated there
    directly, as torch's default collate does, instead of ``share_memory_()``, which would copy it).

    Elsewhere numpy allocates it: one ~9 MB ``torch.empty`` per batch made the process's RSS grow by
    ~150 MB over a pass (glibc kept the freed blocks), while numpy's blocks of that size were returned."""
    if torch.utils.data.get_worker_info() is None:
        return torch.from_numpy(np.empty(numel, dtype=np.float32))
    storage = torch.UntypedStorage._new_shared(numel * 4)
    return torch.empty(0, dtype=torch.float32).set_(storage, 0, (numel,), (1,))


def upsample_lms(ms: np.ndarray, ratio: int) -> np.ndarray:
    """``ms`` C×h×w upsampled to the guide grid: the toolbox's 23-tap interpolator where ``ratio`` is a
    power of two, MATLAB bicubic ``imresize`` otherwise (the 23-tap filter exists only for powers of 2)."""
    from rsmif_core.ops.interp import imresize, interp23tap

    x = torch.from_numpy(np.asarray(ms, dtype=np.float64))[None]
    if ratio == 1:
        return np.asarray(ms, dtype=np.float64).copy()
    up: Callable[[torch.Tensor], torch.Tensor]
    if ratio & (ratio - 1) == 0:
        up = lambda t: interp23tap(t, ratio)  # noqa: E731
    else:
        up = lambda t: imresize(t, scale=float(ratio))  # noqa: E731
    return up(x)[0].numpy()
