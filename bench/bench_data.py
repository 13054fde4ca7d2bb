"""Data-reading benchmark (a script; never part of the test suite).

1. Random access to 64×64 training items of a PanCollection-format h5 (WV3 geometry: gt/lms 8×64×64,
   ms 8×16×16, pan 1×64×64, float64 DN, contiguous as MATLAB writes it) through ``pancollection`` with 0
   and 2 DataLoader workers (persistent, started by a warm-up pass), against the ceiling: the same items
   from in-memory numpy arrays, 0 workers, same scaling and item dicts, batched by ``rsmif_core.collate``.
   Batch 32, one shuffled order, repeats interleaved; the median items/s, the ratio to the ceiling
   (measured in the same run) and the CPU milliseconds per batch of the main process and of the workers
   are printed. Target: >= 0.5x with 2 workers. Context lines: the reader with every read through HDF5
   (``memory_map=False``), the former path (HDF5 reads, one item at a time, then stacked), the in-memory
   arrays through 2 workers, and a control dataset of zeros through 2 workers (the DataLoader's
   worker-to-main transfer alone).
2. Memory: in a fresh process, iterate every item of a ~2 GB file with 0 workers and with 2 workers
   (forked, Linux's default, and spawned) and report the peak RSS and USS of every process, and the floor:
   a fresh process with torch, h5py and rsmif_core imported. Target: < 300 MB. The file is made in a
   temporary folder and deleted. The reader is built from its class: ``create_dataset`` would also load
   every plugin.

    python bench/bench_data.py [--items 1500] [--big-gb 2.0] [--repeats 3]

Results are recorded in bench/RESULTS.md (section "bench_data").
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import psutil
import torch
from _results import recorded
from torch.utils.data import DataLoader, Dataset

from rsmif_core import collate, create_dataset
from rsmif_core.data.pancollection import PanCollection

BANDS, SIZE, RATIO, SCALE = 8, 64, 4, 2047.0
ITEM_BYTES = (2 * BANDS * SIZE * SIZE + BANDS * (SIZE // RATIO) ** 2 + SIZE * SIZE) * 8


def write_file(path: Path, items: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    low = SIZE // RATIO
    shapes = {"gt": (BANDS, SIZE, SIZE), "lms": (BANDS, SIZE, SIZE), "ms": (BANDS, low, low), "pan": (1, SIZE, SIZE)}
    # MATLAB-written PanCollection files are contiguous (not chunked): benchmark that layout
    with h5py.File(path, "w") as f:
        sets = {k: f.create_dataset(k, shape=(items, *s), dtype="f8") for k, s in shapes.items()}
        block = 256
        for start in range(0, items, block):
            n = min(block, items - start)
            for key, ds in sets.items():
                ds[start : start + n] = rng.uniform(0, SCALE, (n, *shapes[key]))
        f.attrs["sensor"] = "wv3"


class Zeros(Dataset[dict[str, Any]]):
    """Control: items that cost nothing to make, so 2 workers measure only the DataLoader's transfer cost."""

    def __init__(self, items: int) -> None:
        self.items = items

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, i: int) -> dict[str, Any]:
        low = SIZE // RATIO
        return {"gt": torch.zeros(BANDS, SIZE, SIZE), "lms": torch.zeros(BANDS, SIZE, SIZE),
                "ms": torch.zeros(BANDS, low, low), "pan": torch.zeros(1, SIZE, SIZE), "task": "pansharpening",
                "sensor": "wv3", "ratio": RATIO, "max_value": SCALE, "id": str(i)}


class InMemory(Dataset[dict[str, Any]]):
    """The ceiling: the same arrays already in memory, same scaling and item dicts."""

    def __init__(self, path: Path) -> None:
        with h5py.File(path, "r") as f:
            self.arrays = {k: np.asarray(f[k]) for k in ("gt", "lms", "ms", "pan")}

    def __len__(self) -> int:
        return int(self.arrays["pan"].shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        item: dict[str, Any] = {}
        for key, values in self.arrays.items():
            out = np.empty(values.shape[1:], dtype=np.float32)
            np.multiply(values[i], 1.0 / SCALE, out=out, casting="same_kind")
            item[key] = torch.from_numpy(out)
        item.update(task="pansharpening", sensor="wv3", ratio=RATIO, max_value=SCALE, id=str(i))
        return item


class PerItem(Dataset[dict[str, Any]]):
    """The same reader without its ``__getitems__``: the DataLoader then asks for one item at a time and
    ``collate`` stacks them (what the reader did before it had ``__getitems__``), for comparison."""

    def __init__(self, dataset: Dataset[dict[str, Any]]) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.dataset[i]


def make_loader(dataset: Dataset[Any], order: list[int], workers: int, batch: int = 32) -> DataLoader[Any]:
    return DataLoader(dataset, batch_size=batch, sampler=order, num_workers=workers, collate_fn=collate,
                      persistent_workers=workers > 0)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def one_pass(loader: DataLoader[Any]) -> tuple[float, float, float]:
    """One pass in the steady state (persistent workers were started by a warm-up pass before): items/s,
    and CPU milliseconds per batch spent by this process and by all worker processes together (where the
    time goes, whatever else runs on the machine)."""
    me = psutil.Process()
    workers = me.children(recursive=True)
    main0, workers0 = cpu_seconds(me), sum(cpu_seconds(w) for w in workers)
    start = time.perf_counter()
    count = batches = 0
    for batch in loader:
        count += len(batch)
        batches += 1
    elapsed = time.perf_counter() - start
    main_ms = (cpu_seconds(me) - main0) / batches * 1e3
    workers_ms = (sum(cpu_seconds(w) for w in workers) - workers0) / batches * 1e3
    return count / elapsed, main_ms, workers_ms


def random_access(folder: Path, items: int, repeats: int) -> None:
    path = folder / "train_wv3.h5"
    write_file(path, items)
    print(f"random access: {items} items of 64×64 (file {path.stat().st_size / 2**20:.0f} MiB, page-cached after the first pass)")
    ceiling = InMemory(path)
    ours = create_dataset("pancollection", path=str(path))
    hdf5 = create_dataset("pancollection", path=str(path), memory_map=False)
    order = np.random.default_rng(1).permutation(items).tolist()
    loaders = {
        "in-memory numpy (ceiling)": make_loader(ceiling, order, 0),
        "pancollection, 0 workers": make_loader(ours, order, 0),
        "pancollection, 2 workers": make_loader(ours, order, 2),
        "context: HDF5 reads, 0 workers": make_loader(hdf5, order, 0),
        "context: HDF5 reads, 2 workers": make_loader(hdf5, order, 2),
        "context: former path, 0 w": make_loader(PerItem(hdf5), order, 0),
        "context: former path, 2 w": make_loader(PerItem(hdf5), order, 2),
        "context: in-memory, 2 workers": make_loader(ceiling, order, 2),
        "control: zeros, 2 workers": make_loader(Zeros(items), order, 2),
    }
    for loader in loaders.values():  # warm-up: page cache, worker start-up, code paths
        one_pass(loader)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in loaders}
    for _ in range(repeats):
        for name, loader in loaders.items():
            results[name].append(one_pass(loader))
    print(f"  load average after the runs: {load_average()}")
    base = statistics.median(r[0] for r in results["in-memory numpy (ceiling)"])
    print(f"  {'':30s} {'items/s':>9s}   {'ratio':>5s}   CPU ms per batch of 32: main, workers   (runs, items/s)")
    for name, runs in results.items():
        med, main_ms, workers_ms = (statistics.median(r[k] for r in runs) for k in range(3))
        print(f"  {name:30s} {med:9.0f}   {med / base:5.2f}x  {main_ms:6.1f} {workers_ms:8.1f}"
              f"   ({', '.join(f'{r[0]:.0f}' for r in runs)})")


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" ({os.cpu_count()} CPUs)"


class PeakMemory:
    """Samples every 200 ms the RSS and USS of this process and of each of its children (DataLoader
    workers) and keeps each process's peak. RSS counts pages shared with other processes (the libraries,
    and after fork the parent's heap, copy-on-write); USS counts only the pages this process alone holds
    (what it costs beyond the others). Reading USS (smaps) costs CPU: hence the 200 ms."""

    def __init__(self) -> None:
        self.peaks: dict[int, tuple[int, int]] = {}  # pid -> (RSS, USS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, process: psutil.Process) -> None:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            return
        rss, uss = self.peaks.get(process.pid, (0, 0))
        self.peaks[process.pid] = (max(rss, info.rss), max(uss, info.uss))

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self._sample(me)
            for child in me.children(recursive=True):
                self._sample(child)
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> str:
        me = os.getpid()
        lines = []
        for pid, (rss, uss) in sorted(self.peaks.items(), key=lambda p: p[0] != me):
            role = "main process" if pid == me else f"worker {pid}"
            lines.append(f"      {role:14s} peak RSS {rss / 2**20:4.0f} MB, peak USS {uss / 2**20:4.0f} MB")
        return "\n".join(lines)


def report_memory(queue: Any) -> None:
    """Run in a fresh (spawned) process: what a process holds with torch, h5py and rsmif_core imported
    and nothing read, i.e. what a spawned DataLoader worker starts from."""
    info = psutil.Process().memory_full_info()
    queue.put((info.rss, info.uss))


def memory(folder: Path, gigabytes: float) -> None:
    items = int(gigabytes * 2**30 / ITEM_BYTES)
    path = folder / "train_wv3_big.h5"
    start = time.perf_counter()
    spawn = multiprocessing.get_context("spawn")
    # written by a child process, so the writer's buffers do not count in this process's RSS
    writer = spawn.Process(target=write_file, args=(path, items, 2))
    writer.start()
    writer.join()
    size = path.stat().st_size
    print(f"memory: {items} items, {size / 2**30:.2f} GiB file (written in {time.perf_counter() - start:.0f} s), "
          f"load average {load_average()}")
    queue = spawn.Queue()
    probe = spawn.Process(target=report_memory, args=(queue,))
    probe.start()
    rss, uss = queue.get()
    probe.join()
    print(f"  floor: a fresh process with torch, h5py and rsmif_core imported holds RSS {rss / 2**20:.0f} MB, "
          f"USS {uss / 2**20:.0f} MB")
    # the class itself, not create_dataset: loading every plugin (metrics, trainer …) would add ~130 MB
    # that has nothing to do with reading data
    ds = PanCollection(path)
    info = psutil.Process().memory_full_info()
    print(f"  this process with the reader created: RSS {info.rss / 2**20:.0f} MB, USS {info.uss / 2**20:.0f} MB")
    # fork is Linux's default start method for a script (workers share the parent's pages copy-on-write);
    # spawn (the default on macOS and Windows) starts each worker as a fresh interpreter
    for workers, start_method in ((0, None), (2, "fork"), (2, "spawn")):
        with PeakMemory() as peak:
            loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers, collate_fn=collate,
                                multiprocessing_context=start_method)
            t0 = time.perf_counter()
            seen = sum(len(b) for b in loader)
            elapsed = time.perf_counter() - t0
        assert seen == items
        how = f"{workers} workers ({start_method})" if workers else "0 workers"
        print(f"  {how}: read {seen} items ({size / 2**30:.2f} GiB) in {elapsed:.0f} s\n{peak.report()}")
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1500)
    parser.add_argument("--big-gb", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-random", action="store_true", help="Only the memory part (RSS then starts clean).")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with recorded("bench_data"), tempfile.TemporaryDirectory(prefix="rsmif_bench_data_") as tmp:
        print(f"load average at the start: {load_average()}")
        if not args.skip_random:
            random_access(Path(tmp), args.items, args.repeats)
        if not args.skip_memory:
            # a fresh process, so the random-access part's arrays and plugins do not count in its RSS
            child = multiprocessing.get_context("spawn").Process(target=memory, args=(Path(tmp), args.big_gb))
            child.start()
            child.join()


if __name__ == "__main__":
    main()
