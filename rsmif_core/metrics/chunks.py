"""Cache-sized chunks: elementwise-heavy indices run faster on CPU over a few maps at a time.

Each pass of a batched op over 20 × 8 × 256 × 256 float64 values streams 80 MB through memory;
splitting the leading (image or band) axis into chunks of about :data:`CHUNK_ELEMENTS` values keeps the
intermediates in cache, with identical results. Chunks run over images or bands, never over blocks or
pixels.

Chunks of the single-threaded, GIL-releasing numba kernels run in parallel on torch's intra-op threads
(:func:`~rsmif_core.ops.threads.run_parts`); chunks of torch ops run one after the other, each op on torch's
own threads.
Results are identical whatever the thread count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor

from rsmif_core.ops.threads import run_parts

CHUNK_ELEMENTS = 1 << 17


def chunk_slices(n: int, per_item: int, target: int = CHUNK_ELEMENTS) -> list[slice]:
    """Slices over ``n`` items of ``per_item`` values each, about ``target`` values per slice (>= 1 item)."""
    step = max(1, target // max(per_item, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def over_leading(func: Callable[..., Tensor], *tensors: Tensor, target: int = CHUNK_ELEMENTS,
                 pool: bool = False) -> Tensor:
    """``func(*tensors)`` evaluated on chunks of the first axis and concatenated along it.

    ``func`` must treat the items of the first axis independently. On GPUs one call does it all.
    ``pool=True`` runs the chunks in parallel: only for functions that run on one thread and
    release the GIL (the numba kernels), which torch ops on their own intra-op threads are not.
    """
    first = tensors[0]
    if first.is_cuda:
        return func(*tensors)
    n = first.shape[0]
    per_item = max(t[0].numel() for t in tensors if t.shape[0] == n) if n else 0
    slices = chunk_slices(n, per_item, target) if n > 1 else [slice(0, n)]
    parts = [tuple(t[s] if t.shape[0] == n else t for t in tensors) for s in slices]
    results: list[Tensor | None] = [None] * len(parts)

    def chunk(i: int) -> None:
        results[i] = func(*parts[i])

    if pool:
        run_parts(chunk, len(parts))
    else:
        for i in range(len(parts)):
            chunk(i)
    done = cast(list[Tensor], results)
    return done[0] if len(done) == 1 else torch.cat(done)
