"""Batch reading of the h5 collections: ``__getitems__`` (what a DataLoader worker calls) gives exactly the
items ``__getitem__`` gives, stacked once, and ``collate`` keeps the stacked tensors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch
from data.fixtures import HYPER_KEYS, PAN_KEYS, fusion_arrays, write_h5, write_pancollection
from torch.utils.data import DataLoader

from rsmif_core import collate, create_dataset
from rsmif_core.types import StackedItems

INDICES = [3, 0, 4, 0, -1, 1]  # unsorted, a repeat, a negative index


def assert_same_items(batch: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]) -> None:
    assert len(batch) == len(expected)
    for got, want in zip(batch, expected):
        assert got.keys() == want.keys()
        for key, value in want.items():
            if isinstance(value, torch.Tensor):
                assert got[key].dtype == torch.float32 and got[key].shape == value.shape, key
                assert torch.equal(got[key], value), key
            else:
                assert got[key] == value, key


@pytest.mark.parametrize(("crop", "augment"), [(None, False), (None, True), (16, False), (16, True)])
def test_getitems_equals_getitem_for_every_item(tmp_path: Path, crop: int | None, augment: bool) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=5, bands=8, size=32, ratio=4)
    ds = create_dataset("pancollection", path=str(path), crop=crop, augment=augment, seed=3)
    for epoch in (0, 2):
        ds.set_epoch(epoch)
        batch = ds.__getitems__(INDICES)
        assert isinstance(batch, StackedItems)
        assert_same_items(batch, [ds[i] for i in INDICES])
        assert batch[1]["id"] == "train_wv3/0" and batch[4]["id"] == "train_wv3/4"
        collated = collate(batch)
        assert collated.gt is not None and collated.gt.data_ptr() == batch.stacked["gt"].data_ptr()  # no copy
        reference = collate([ds[i] for i in INDICES])
        for key in ("pan", "ms", "lms", "gt"):
            assert torch.equal(getattr(collated, key), getattr(reference, key)), key
        assert collated.meta == reference.meta


def test_getitems_values_are_the_file_values_scaled(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_qb.h5", n=4, bands=4, size=16, ratio=4)
    raw = fusion_arrays(n=4, bands=4, size=16, ratio=4)
    batch = collate(create_dataset("pancollection", path=str(path)).__getitems__([2, 1]))
    for key in ("gt", "ms", "lms", "pan"):
        expected = (raw[key][[2, 1]] / 2047.0).astype(np.float32)
        np.testing.assert_array_equal(getattr(batch, key).numpy(), expected)


def test_getitems_without_reference_and_with_computed_lms(tmp_path: Path) -> None:
    full = write_pancollection(tmp_path / "test_wv3_OrigScale_multiExm1.h5", full=True, n=3, bands=8, size=16)
    ds = create_dataset("pancollection", path=str(full))
    batch = ds.__getitems__([2, 0])
    assert "gt" not in batch.stacked and collate(batch).gt is None
    assert_same_items(batch, [ds[2], ds[0]])
    hyper = write_h5(tmp_path / "Train_Pavia.h5", fusion_arrays(n=3, bands=6, size=32, scale=1.0), HYPER_KEYS,
                     drop=("lms",))
    hds = create_dataset("hyperpancollection", path=str(hyper), crop=16, augment=True, seed=1)
    assert hds.lms_computed
    assert_same_items(hds.__getitems__([1, 2, 1]), [hds[1], hds[2], hds[1]])


def test_getitems_on_non_square_items_with_quarter_turns(tmp_path: Path) -> None:
    arrays = fusion_arrays(n=6, bands=4, size=32, ratio=4)
    arrays = {k: v[:, :, : v.shape[2] // 2] for k, v in arrays.items()}  # 16×32 guide, 4×8 spectral
    path = write_h5(tmp_path / "train_qb.h5", arrays, PAN_KEYS)
    ds = create_dataset("pancollection", path=str(path), augment=True, seed=0)
    indices = list(range(6))
    shapes = {ds[i]["pan"].shape for i in indices}
    assert shapes == {(1, 16, 32), (1, 32, 16)}  # the draws include odd quarter turns
    batch = ds.__getitems__(indices)
    assert not isinstance(batch, StackedItems)  # shapes differ: items one by one, as before
    assert_same_items(batch, [ds[i] for i in indices])


def test_getitems_index_out_of_range(tmp_path: Path) -> None:
    ds = create_dataset("pancollection", path=str(write_pancollection(tmp_path / "train_wv3.h5", n=2)))
    with pytest.raises(IndexError, match="index 2 out of range for 2 items"):
        ds.__getitems__([0, 2])


def _stacked_in_shared_memory(samples: list[Mapping[str, Any]]) -> tuple[bool, bool]:
    assert isinstance(samples, StackedItems)
    return samples.stacked["gt"].is_shared(), collate(samples).gt is samples.stacked["gt"]


def test_workers_write_batches_into_shared_memory(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=4, bands=8, size=16)
    ds = create_dataset("pancollection", path=str(path), crop=8, augment=True, seed=5)
    in_worker = list(DataLoader(ds, batch_size=2, num_workers=1, collate_fn=_stacked_in_shared_memory))
    assert in_worker == [(True, True), (True, True)]
    assert not ds.__getitems__([0, 1]).stacked["gt"].is_shared()  # no shared memory outside workers
    batches = list(DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate))
    serial = torch.stack([ds[i]["gt"] for i in range(4)])
    torch.testing.assert_close(torch.cat([b.gt for b in batches]), serial, rtol=0, atol=0)


def test_threads_reading_one_dataset_do_not_share_read_buffers(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = write_pancollection(tmp_path / "train_wv3.h5", n=8, bands=8, size=32)
    ds = create_dataset("pancollection", path=str(path), crop=16, augment=True, seed=2)
    serial = [ds[i]["gt"] for i in range(8)] * 4
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda i: ds[i % 8]["gt"], range(32)))
    assert all(torch.equal(a, b) for a, b in zip(threaded, serial))


def test_items_are_float32_whatever_the_default_dtype(tmp_path: Path) -> None:
    ds = create_dataset("pancollection", path=str(write_pancollection(tmp_path / "train_wv3.h5", n=3)))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        item, batch = ds[0], ds.__getitems__([0, 1])
        in_worker = next(iter(DataLoader(ds, batch_size=2, num_workers=1, collate_fn=collate)))
    finally:
        torch.set_default_dtype(previous)
    assert item["gt"].dtype == batch[0]["gt"].dtype == in_worker.gt.dtype == torch.float32
    assert torch.equal(in_worker.gt[0], item["gt"]) and torch.equal(batch[1]["ms"], ds[1]["ms"])


@pytest.mark.parametrize(("crop", "augment"), [(None, False), (16, True)])
def test_memory_mapped_reads_equal_hdf5_reads(tmp_path: Path, crop: int | None, augment: bool) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=5, bands=8, size=32, ratio=4)
    mapped = create_dataset("pancollection", path=str(path), crop=crop, augment=augment, seed=4)
    through_hdf5 = create_dataset("pancollection", path=str(path), crop=crop, augment=augment, seed=4, memory_map=False)
    assert_same_items(mapped.__getitems__(INDICES), through_hdf5.__getitems__(INDICES))
    assert_same_items([mapped[i] for i in INDICES], [through_hdf5[i] for i in INDICES])
    assert mapped._mapped is not None and set(mapped._mapped.arrays) == {"gt", "ms", "lms", "pan"}
    assert through_hdf5._mapped is None
    mapped.close()
    assert mapped._mapped is None


def test_chunked_compressed_or_float32_datasets_are_read_through_hdf5(tmp_path: Path) -> None:
    arrays = fusion_arrays(n=3, bands=4, size=16)
    path = tmp_path / "train_qb.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("gt", data=arrays["gt"], chunks=(1, 4, 16, 16), compression="gzip")
        f.create_dataset("ms", data=arrays["ms"].astype(np.float32))
        f.create_dataset("lms", data=arrays["lms"])  # contiguous float64: mapped
        f.create_dataset("pan", data=arrays["pan"].astype(">f8"))  # big-endian
    ds = create_dataset("pancollection", path=str(path))
    batch = collate(ds.__getitems__([2, 0]))
    assert ds._mapped is not None and set(ds._mapped.arrays) == {"lms"}
    for key in ("gt", "ms", "lms", "pan"):
        expected = arrays[key][[2, 0]].astype(np.float32 if key == "ms" else np.float64) / 2047.0
        np.testing.assert_allclose(getattr(batch, key).numpy(), expected.astype(np.float32), rtol=1e-6)


def _resident_kib(path: Path) -> int:
    """How much of ``path`` this process has mapped and resident (Linux /proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and all(c in "0123456789abcdef-" for c in first):
            inside = line.endswith(str(path))
        elif inside and first == "Rss:":
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps")
def test_mapped_pages_are_released_after_every_item(tmp_path: Path) -> None:
    path = write_pancollection(tmp_path / "train_wv3.h5", n=40, bands=8, size=64, ratio=4)  # ~23 MB
    ds = create_dataset("pancollection", path=str(path))
    ds.__getitems__(list(range(40)))
    assert ds._mapped is not None and ds._mapped.arrays
    assert _resident_kib(path) == 0
    ds[3]
    assert _resident_kib(path) == 0
    assert float(ds._read("gt", 5, None).sum()) > 0  # reading maps pages of the file …
    assert _resident_kib(path) > 0
    ds._release()  # … until the reader releases them
    assert _resident_kib(path) == 0


def test_collate_stacks_anew_the_fields_replaced_after_getitems(tmp_path: Path) -> None:
    ds = create_dataset("pancollection", path=str(write_pancollection(tmp_path / "train_wv3.h5", n=4)))
    batch = ds.__getitems__([0, 1, 2])
    batch[1]["pan"] = torch.zeros_like(batch[1]["pan"])  # a transform that replaces a tensor
    batch[2]["ms"].mul_(0)  # one that works in place: the stacked tensor sees it
    collated = collate(batch)
    assert collated.pan.data_ptr() != batch.stacked["pan"].data_ptr() and float(collated.pan[1].abs().sum()) == 0
    assert collated.gt is batch.stacked["gt"] and collated.ms is batch.stacked["ms"]
    assert float(collated.ms[2].abs().sum()) == 0
    del batch[0]
    assert collate(batch).gt.shape[0] == 2  # items removed: everything stacked anew
