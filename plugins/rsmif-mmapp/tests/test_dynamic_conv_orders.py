"""The shared per-pixel dynamic convolution in both of its evaluation orders, as MMAPP uses them.

``rsmif_core.ops.attention.dynamic_conv2d`` runs a GEMM first when the output is no wider than the input
(AFM, most TSAMs) and the shifted products first when it is wider (TSAM ``head_conv``: 1 guide band → 32);
it also splits the batch into chunks. Each order and chunking must equal the authors' unfold formulation.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rsmif_core.ops import attention


def unfolded_dynamic_conv(x: torch.Tensor, taps: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
    """The authors' formulation: unfold(x) times the taps repeated over input channels, then one matmul."""
    b, n, h, w = x.shape
    m, _, k, _ = weight.shape
    cols = F.unfold(x, k, padding=padding).view(b, n, k * k, -1)
    y = torch.matmul(weight.reshape(m, -1), (cols * taps.reshape(b, 1, k * k, -1)).reshape(b, n * k * k, -1))
    return y.view(b, m, h + 2 * padding - k + 1, -1)


@pytest.mark.parametrize("in_planes,out_planes", [(1, 6), (3, 5), (5, 3), (4, 4)])
@pytest.mark.parametrize("padding", [1, 0, 2])
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 20])
def test_both_orders_and_chunkings_match_unfold(monkeypatch, in_planes, out_planes, padding, chunk_bytes):
    monkeypatch.setattr(attention, "_CPU_CHUNK_BYTES", chunk_bytes)
    g = torch.Generator().manual_seed(in_planes * 10 + out_planes)
    x = torch.randn(3, in_planes, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(out_planes, in_planes, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    taps = torch.randn(3, 9, 5 + 2 * padding - 2, 6 + 2 * padding - 2, generator=g, dtype=torch.float64,
                       requires_grad=True)
    ours = attention.dynamic_conv2d(x, taps, weight, padding=padding)
    ref = unfolded_dynamic_conv(x, taps, weight, padding)
    torch.testing.assert_close(ours, ref)
    grad_out = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(ours, (x, taps, weight), grad_out),
                    torch.autograd.grad(ref, (x, taps, weight), grad_out)):
        torch.testing.assert_close(a, b)


def test_small_op_thread_policy_is_checked(monkeypatch):
    monkeypatch.setenv(attention.SMALL_OP_THREADS_ENV, "many")
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="RSMIF_SMALL_OP_THREADS"):
        attention.local_window_attention(x, x, x, 1, 3)
