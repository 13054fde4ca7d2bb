"""Threads for CPU work: small ops on one intra-op thread; GIL-releasing kernels in parallel parts on PyTorch's
own OpenMP threads (a reusable worker pool where PyTorch's OpenMP runtime cannot be reached)."""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import torch

from rsmif_core.ops import forks


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


_PARALLEL_BODY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_in_part = threading.local()  # set while a thread runs a part: a nested run_parts runs inline


def _openmp_runtime() -> ctypes.CDLL | None:
    """PyTorch's OpenMP runtime, reached through its GNU OpenMP entry points: the library in PyTorch's own
    ``lib`` folder where the wheel ships one (GNU OpenMP in the Linux wheels; opening it again gives the copy
    already loaded), else the process's global symbols. None where neither has them (e.g. Windows)."""
    if not torch.backends.openmp.is_available():
        return None
    torch_lib = Path(torch.__file__).parent / "lib"
    shipped = sorted(f for name in ("libgomp*.so*", "libiomp5*.so*", "libomp*.so*") for f in torch_lib.glob(name))
    try:
        lib = ctypes.CDLL(str(shipped[0]) if shipped else None)
        lib.GOMP_parallel.argtypes = [_PARALLEL_BODY, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        lib.GOMP_parallel.restype = None
        lib.omp_get_thread_num.restype = ctypes.c_int
        lib.omp_get_num_threads.restype = ctypes.c_int
    except (OSError, AttributeError, TypeError):
        return None
    return lib


_OPENMP = _openmp_runtime()


def run_parts(part: Callable[[int], None], parts: int) -> None:
    """``part(j)`` once for every j in ``range(parts)``, on up to ``torch.get_num_threads()`` threads.

    For parts that release the GIL while they work (numba ``nogil`` kernels) and write only what is theirs.
    With OpenMP the parts run as a parallel region of PyTorch's own runtime: its worker threads, still
    spinning after the last torch op, take them at once, where the threads of a separate pool would share the
    cores with the spinning ones. Otherwise (no reachable OpenMP runtime, or a forked child) a worker pool
    runs them. The first error a part raises is raised here; a nested call runs its parts inline.
    """
    threads = min(parts, torch.get_num_threads())
    errors: list[BaseException] = []
    if threads <= 1 or getattr(_in_part, "active", False):
        _run_share(part, 0, parts, 1, errors)
    elif _OPENMP is None or forks.forked:
        futures = [worker_pool("parts", threads - 1).submit(_run_share, part, t, parts, threads, errors)
                   for t in range(1, threads)]
        _run_share(part, 0, parts, threads, errors)
        for future in futures:
            future.result()
    else:
        runtime = _OPENMP

        def body(_: object) -> None:
            _run_share(part, runtime.omp_get_thread_num(), parts, runtime.omp_get_num_threads(), errors)

        runtime.GOMP_parallel(_PARALLEL_BODY(body), None, threads, 0)
    if errors:
        raise errors[0]


def _run_share(part: Callable[[int], None], thread: int, parts: int, threads: int, errors: list[BaseException]) -> None:
    """Parts ``thread``, ``thread + threads``, … (each part on one thread whatever the team size); stops at an error."""
    outer = getattr(_in_part, "active", False)
    _in_part.active = True
    try:
        for j in range(thread, parts, threads):
            if errors:
                return
            part(j)
    except BaseException as error:  # noqa: BLE001 - handed to the calling thread, which raises it
        errors.append(error)
    finally:
        _in_part.active = outer
