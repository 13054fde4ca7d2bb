"""Run small CPU ops on one intra-op thread."""

from __future__ import annotations

from collections.abc import Iterator
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
