"""Single-level 2-D Haar wavelet transform (the DWT/IWT used by RAMSF and CF2N)."""

from __future__ import annotations

import torch
from torch import Tensor


def haar_dwt(x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Split B×C×H×W (H, W even) into the LL, HL, LH, HH sub-bands, each B×C×H/2×W/2."""
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"haar_dwt needs an even height and width, found {tuple(x.shape[-2:])}")
    even_rows = x[..., 0::2, :] / 2
    odd_rows = x[..., 1::2, :] / 2
    x1 = even_rows[..., 0::2]
    x2 = odd_rows[..., 0::2]
    x3 = even_rows[..., 1::2]
    x4 = odd_rows[..., 1::2]
    ll = x1 + x2 + x3 + x4
    hl = -x1 - x2 + x3 + x4
    lh = -x1 + x2 - x3 + x4
    hh = x1 - x2 - x3 + x4
    return ll, hl, lh, hh


def haar_iwt(x: Tensor) -> Tensor:
    """Invert :func:`haar_dwt`: B×4C×h×w holding (LL, HL, LH, HH) channel groups -> B×C×2h×2w."""
    if x.shape[1] % 4:
        raise ValueError(f"haar_iwt needs a channel count divisible by 4, found {x.shape[1]}")
    ll, hl, lh, hh = (t / 2 for t in x.chunk(4, dim=1))
    b, c, h, w = ll.shape
    out = torch.empty(b, c, 2 * h, 2 * w, dtype=x.dtype, device=x.device)
    out[..., 0::2, 0::2] = ll - hl - lh + hh
    out[..., 1::2, 0::2] = ll - hl + lh - hh
    out[..., 0::2, 1::2] = ll + hl - lh - hh
    out[..., 1::2, 1::2] = ll + hl + lh + hh
    return out
