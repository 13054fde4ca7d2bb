"""rsmif_core.ops.threads.run_parts: every part once, on PyTorch's OpenMP threads where it can, errors raised,
nested calls inline, and forked children safe."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from rsmif_core.ops import threads


@pytest.fixture(params=["openmp", "pool"])
def runtime(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both ways of running parts: PyTorch's OpenMP runtime (where present) and the worker pool."""
    if request.param == "openmp" and threads._OPENMP is None:
        pytest.skip("PyTorch's OpenMP runtime is not reachable here")
    if request.param == "pool":
        monkeypatch.setattr(threads, "_OPENMP", None)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield request.param
    finally:
        torch.set_num_threads(previous)


def test_the_openmp_runtime_is_the_one_pytorch_sets() -> None:
    """``torch.set_num_threads`` sets PyTorch's runtime only: the runtime found must follow it."""
    runtime = threads._OPENMP
    if runtime is None:
        pytest.skip("PyTorch's OpenMP runtime is not reachable here")
    runtime.omp_get_max_threads.restype = ctypes.c_int
    previous = torch.get_num_threads()
    try:
        for n in (1, 3, 2):
            torch.set_num_threads(n)
            assert runtime.omp_get_max_threads() == n
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_every_part_runs_exactly_once(runtime: str, parts: int) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def part(j: int) -> None:
        with lock:
            seen.append(j)

    threads.run_parts(part, parts)
    assert sorted(seen) == list(range(parts))


def test_two_parts_run_on_two_threads_at_once(runtime: str) -> None:
    """Each part waits for the other to start: this finishes only if they run concurrently."""
    started = [threading.Event(), threading.Event()]
    idents: dict[int, int] = {}

    def part(j: int) -> None:
        idents[j] = threading.get_ident()
        started[j].set()
        assert started[1 - j].wait(timeout=30), "the other part never started"

    threads.run_parts(part, 2)
    assert idents[0] != idents[1]


def test_an_error_in_a_part_is_raised_by_the_caller(runtime: str) -> None:
    def part(j: int) -> None:
        if j == 1:
            raise ValueError("part 1 failed")

    with pytest.raises(ValueError, match="part 1 failed"):
        threads.run_parts(part, 2)


def test_an_error_is_raised_on_one_thread_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)

    def part(j: int) -> None:
        raise ValueError(f"part {j} failed")

    with pytest.raises(ValueError, match="part 0 failed"):
        threads.run_parts(part, 3)


def test_a_nested_call_runs_its_parts_inline(runtime: str) -> None:
    inner: list[tuple[int, int]] = []
    lock = threading.Lock()

    def part(j: int) -> None:
        def inner_part(i: int) -> None:
            with lock:
                inner.append((j, i))

        threads.run_parts(inner_part, 3)

    threads.run_parts(part, 2)
    assert sorted(inner) == [(j, i) for j in range(2) for i in range(3)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_parts_after_the_parent_did() -> None:
    """GNU OpenMP regions hang in a child forked after the parent ran one; the child must use a pool of its own."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        threads.run_parts(lambda j: None, 2)  # a parallel region in the parent
        with multiprocessing.get_context("fork").Pool(1) as pool:
            assert pool.apply_async(_parts_in_child).get(timeout=120) == [0, 1, 2]
    finally:
        torch.set_num_threads(previous)


_PARENT_USED_ONLY_TORCH = """
import multiprocessing, torch
import rsmif_core  # registers the at-fork marker; rsmif_core.ops.threads is not imported yet
torch.set_num_threads(2)
torch.ones(1 << 22).add_(1)  # a parallel region of PyTorch's OpenMP runtime in the parent

def child(_):
    from rsmif_core.ops import threads  # first imported here, in the forked child
    torch.set_num_threads(2)
    seen = []
    threads.run_parts(seen.append, 3)
    return sorted(seen)

if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(1) as pool:
        print(pool.apply_async(child, (0,)).get(timeout=120))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_parts_when_the_parent_ran_only_pytorch_regions(tmp_path: Path) -> None:
    script = tmp_path / "fork_after_torch.py"
    script.write_text(_PARENT_USED_ONLY_TORCH, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[0, 1, 2]"


def _parts_in_child() -> list[int]:
    torch.set_num_threads(2)
    seen: list[int] = []
    lock = threading.Lock()

    def part(j: int) -> None:
        time.sleep(0.01)
        with lock:
            seen.append(j)

    threads.run_parts(part, 3)
    return sorted(seen)
