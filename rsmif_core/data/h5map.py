"""Read-only memory maps of the h5 datasets stored as one plain block of native float64 in the file.

MATLAB writes PanCollection files that way (contiguous layout, no filters, little-endian doubles): such a
dataset is a C-order N×C×H×W array at a known offset, so a reader can scale items straight from the
page cache instead of having HDF5 copy them into a buffer first. In ``bench/bench_data.py`` (WV3
geometry, batch 32 of 64×64 items) this took the CPU per batch from 9.1 to 6.2 ms with 0 workers and
from 16.2 to 12.1 ms in the workers with 2. Any other dataset (chunked, compressed, another dtype or
byte order, external storage) is read through HDF5.

Mapped pages count in the process's RSS while they stay mapped, so the reader calls :meth:`release`
after each item: the pages go back to being page cache only, and the RSS stays bounded however large
the file is (a 2 GiB file: peak RSS 266 MB with 0 workers, 191 MB per forked worker). Only datasets
lying wholly inside the file when it is opened are mapped; a file truncated after that ends the process
with SIGBUS on the next read instead of raising an error.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import h5py
import numpy as np

_FLOAT64 = np.dtype("float64")


def _block(ds: h5py.Dataset) -> tuple[int, int] | None:
    """(offset, bytes) of ``ds`` when it is one contiguous block of native float64 in its file, else None."""
    if ds.dtype != _FLOAT64 or not ds.dtype.isnative or ds.chunks is not None:
        return None
    plist = ds.id.get_create_plist()
    if plist.get_layout() != h5py.h5d.CONTIGUOUS or plist.get_nfilters() or plist.get_external_count():
        return None
    offset = ds.id.get_offset()
    if offset is None:  # storage never written
        return None
    return int(offset), int(np.prod(ds.shape, dtype=np.int64)) * _FLOAT64.itemsize


class MappedDatasets:
    """Numpy views (read-only, N×C×H×W float64) of the mappable datasets of one open h5 file."""

    def __init__(self, path: Path, datasets: dict[str, h5py.Dataset]) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._map: mmap.mmap | None = None
        blocks = {role: _block(ds) for role, ds in datasets.items()}
        size = path.stat().st_size
        usable = {role: b for role, b in blocks.items() if b is not None and b[0] + b[1] <= size}
        if not usable:
            return
        try:
            with open(path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # a filesystem that cannot map files: read through HDF5
            return
        for role, (offset, nbytes) in usable.items():
            shape = datasets[role].shape
            self.arrays[role] = np.frombuffer(self._map, dtype=_FLOAT64, count=nbytes // 8, offset=offset).reshape(shape)

    def release(self) -> None:
        """Unmap the pages read so far (they stay in the page cache): keeps the RSS bounded."""
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        self.arrays = {}
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a view is still alive somewhere: the map closes when it is collected
                pass
            self._map = None

