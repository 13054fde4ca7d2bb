"""Threads for CPU work: small ops on one intra-op thread; one reusable worker pool per purpose."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch


@contextmanager
def single_thread() -> Iterator[None]:
    """Run cache-sized CPU ops on one thread, restoring the setting after.

    Each op on a chunk is small; splitting it across threads buys little and, on a busy machine,
    every op waits for the slowest (possibly descheduled) thread — measured 20× slower here.
    The setting is process-wide: torch work in other Python threads is affected meanwhile.
    """
    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_pools: dict[str, tuple[tuple[int, int], ThreadPoolExecutor]] = {}  # purpose -> ((process id, workers), pool)
_pools_lock = threading.Lock()


def worker_pool(purpose: str, workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads for ``purpose``, made once and reused (creating threads per call costs
    more than the small kernels they run); a forked child (e.g. a DataLoader worker) inherits the pool object
    but not its threads, so it gets a pool of its own."""
    key = (os.getpid(), workers)
    with _pools_lock:
        found = _pools.get(purpose)
        if found is None or found[0] != key:
            if found is not None and found[0][0] == key[0]:
                found[1].shutdown(wait=False)
            found = (key, ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"rsmif-{purpose}"))
            _pools[purpose] = found
        return found[1]
