"""Cache-sized chunks: elementwise-heavy indices run faster on CPU over a few maps at a time.

Each pass of a batched op over 20 × 8 × 256 × 256 float64 values streams 80 MB through memory;
splitting the leading (image or band) axis into chunks of about :data:`CHUNK_ELEMENTS` values keeps the
intermediates in cache and is 2-3× faster on CPU, with identical results. Chunks run over images or
bands, never over blocks or pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rsmif_core.ops.threads import single_thread

CHUNK_ELEMENTS = 1 << 17


def chunk_slices(n: int, per_item: int, target: int = CHUNK_ELEMENTS) -> list[slice]:
    """Slices over ``n`` items of ``per_item`` values each, about ``target`` values per slice (>= 1 item)."""
    step = max(1, target // max(per_item, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def over_leading(func: Callable[..., Tensor], *tensors: Tensor, target: int = CHUNK_ELEMENTS) -> Tensor:
    """``func(*tensors)`` evaluated on chunks of the first axis and concatenated along it.

    ``func`` must treat the items of the first axis independently. On GPUs one call does it all.
    """
    first = tensors[0]
    if first.is_cuda:
        return func(*tensors)
    if first.shape[0] <= 1:
        with single_thread():
            return func(*tensors)
    per_item = max(t[0].numel() for t in tensors if t.shape[0] == first.shape[0])
    with single_thread():
        parts = [func(*(t[s] if t.shape[0] == first.shape[0] else t for t in tensors))
                 for s in chunk_slices(first.shape[0], per_item, target)]
    return parts[0] if len(parts) == 1 else torch.cat(parts)
