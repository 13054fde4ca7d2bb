"""rsmif_core.ops.attention against a literal unfold-based transcription of the ACmix / RSAM maths."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rsmif_core.ops import attention
from rsmif_core.ops.attention import (
    dynamic_conv2d,
    dynamic_conv3x3_per_pixel,
    dynamic_conv3x3_per_sample,
    local_window_attention,
    position_grid,
)
from rsmif_core.testing import single_thread


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: on a shared CPU, OpenMP barriers cost more than the work."""
    with single_thread():
        yield


def unfolded_attention(q, k, v, heads, kernel, pe):
    """The authors' formulation: unfolded copies of k, v and pe, including the q·pe(p) term."""
    b, c, h, w = q.shape
    d = c // heads
    pad = torch.nn.ReflectionPad2d(kernel // 2)
    unfold = torch.nn.Unfold(kernel)
    q_att = q.view(b * heads, d, h, w) * d**-0.5
    unfold_k = unfold(pad(k.view(b * heads, d, h, w))).view(b * heads, d, kernel * kernel, h, w)
    unfold_rpe = unfold(pad(pe)).view(1, d, kernel * kernel, h, w)
    att = (q_att.unsqueeze(2) * (unfold_k + pe.unsqueeze(2) - unfold_rpe)).sum(1).softmax(1)
    unfold_v = unfold(pad(v.view(b * heads, d, h, w))).view(b * heads, d, kernel * kernel, h, w)
    return (att.unsqueeze(1) * unfold_v).sum(2).view(b, c, h, w)


def unfolded_dynamic_conv(x, taps, weight, padding):
    """The authors' formulation: taps repeated over input channels times unfold(x), then matmul."""
    b, n, h, w = x.shape
    m, _, k, _ = weight.shape
    cols = F.unfold(x, k, padding=padding)
    length = cols.shape[-1]
    rep = taps.expand(b, k * k, *taps.shape[2:]).reshape(b, 1, k * k, -1).expand(b, n, k * k, length)
    y = torch.matmul((cols * rep.reshape(b, n * k * k, length)).transpose(1, 2), weight.view(m, -1).t())
    ho = h + 2 * padding - k + 1
    return y.transpose(1, 2).reshape(b, m, ho, -1)


def test_position_grid_matches_linspace():
    grid = position_grid(3, 5)
    assert grid.shape == (1, 2, 3, 5)
    assert torch.allclose(grid[0, 0, 1], torch.linspace(-1, 1, 5))
    assert torch.allclose(grid[0, 1, :, 2], torch.linspace(-1, 1, 3))


@pytest.mark.parametrize("impl", ["shifts", "views"])
@pytest.mark.parametrize("shape", [(2, 9, 12, 10), (1, 6, 4, 5)])
def test_attention_matches_unfolded(shape, impl):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(shape, generator=g) for _ in range(3))
    heads = 3
    pe = torch.randn(1, shape[1] // heads, *shape[2:], generator=g)
    ours = local_window_attention(q, k, v, heads, 7, position=pe, impl=impl)
    ref = unfolded_attention(q, k, v, heads, 7, pe)
    assert (ours - ref).abs().max() <= 1e-5 * ref.abs().max()


@pytest.mark.parametrize("impl", ["shifts", "views"])
def test_attention_gradients_match_unfolded(impl):
    g = torch.Generator().manual_seed(1)
    tensors = [torch.randn(2, 9, 8, 9, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    pe = torch.randn(1, 3, 8, 9, generator=g, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(2, 9, 8, 9, generator=g, dtype=torch.float64)
    ours = torch.autograd.grad(local_window_attention(*tensors, 3, 7, position=pe, impl=impl), [*tensors, pe], grad_out)
    ref = torch.autograd.grad(unfolded_attention(*tensors, 3, 7, pe), [*tensors, pe], grad_out)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


def test_attention_gradcheck_shifts():
    g = torch.Generator().manual_seed(4)
    args = [torch.randn(1, 4, 4, 5, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(lambda q, k, v: local_window_attention(q, k, v, 2, 3, impl="shifts"), args)


def test_attention_rejects_bad_input():
    x = torch.zeros(1, 9, 3, 8)
    with pytest.raises(ValueError, match="at least 4"):
        local_window_attention(x, x, x, 3, 7)
    y = torch.zeros(1, 8, 8, 8)
    with pytest.raises(ValueError, match="heads"):
        local_window_attention(y, y, y, 3, 7)
    with pytest.raises(ValueError, match="impl"):
        local_window_attention(y, y, y, 2, 7, impl="fast")


@pytest.mark.parametrize(("in_planes", "out_planes"), [(5, 4), (1, 6), (3, 5), (4, 4)])
@pytest.mark.parametrize("padding", [1, 0, 2])
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 20])
def test_dynamic_conv_per_pixel_matches_unfolded(monkeypatch, in_planes, out_planes, padding, chunk_bytes):
    """Both evaluation orders (GEMM first when the output is no wider than the input, as in AFM; shifted
    products first when wider, as TSAM's 1 -> 32 head) and both chunkings equal the unfold formulation."""
    monkeypatch.setattr(attention, "_CPU_CHUNK_BYTES", chunk_bytes)
    g = torch.Generator().manual_seed(in_planes * 10 + out_planes)
    x = torch.randn(2, in_planes, 9, 7, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(out_planes, in_planes, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    size = (9 + 2 * padding - 2, 7 + 2 * padding - 2)
    taps = torch.rand(2, 9, *size, generator=g, dtype=torch.float64, requires_grad=True)
    ours = dynamic_conv2d(x, taps, weight, padding=padding)
    ref = unfolded_dynamic_conv(x, taps, weight, padding)
    torch.testing.assert_close(ours, ref)
    grad_out = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(ours, (x, taps, weight), grad_out),
                    torch.autograd.grad(ref, (x, taps, weight), grad_out)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("padding", [1, 0])
def test_dynamic_conv_per_pixel_gradcheck(padding):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 4, 4, generator=g, dtype=torch.float64)
    weight = torch.randn(2, 2, 3, 3, generator=g, dtype=torch.float64)
    taps = torch.rand(1, 9, 4 - 2 + 2 * padding, 4 - 2 + 2 * padding, generator=g, dtype=torch.float64)
    small = (x.requires_grad_(), taps.requires_grad_(), weight.requires_grad_())
    assert torch.autograd.gradcheck(lambda a, t, w: dynamic_conv2d(a, t, w, padding=padding), small)


def test_dynamic_conv_per_sample_matches_unfolded():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 4, 6, 6, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 4, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    taps = torch.randn(3, 9, generator=g, dtype=torch.float64, requires_grad=True)
    ours = dynamic_conv3x3_per_sample(x, taps, weight)
    ref = unfolded_dynamic_conv(x, taps[:, :, None, None], weight, 1)
    torch.testing.assert_close(ours, ref)
    grad_out = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(ours, (x, taps, weight), grad_out),
                    torch.autograd.grad(ref, (x, taps, weight), grad_out)):
        torch.testing.assert_close(a, b)


def test_dynamic_conv_3x3_alias_and_errors():
    x = torch.randn(1, 2, 5, 5)
    weight = torch.randn(3, 2, 3, 3)
    taps = torch.rand(1, 9, 5, 5)
    assert torch.equal(dynamic_conv3x3_per_pixel(x, taps, weight), dynamic_conv2d(x, taps, weight))
    with pytest.raises(ValueError, match="weight"):
        dynamic_conv2d(x, taps, torch.randn(3, 4, 3, 3))
    with pytest.raises(ValueError, match="taps"):
        dynamic_conv2d(x, torch.rand(1, 4, 5, 5), weight)
    with pytest.raises(ValueError, match="cover"):
        dynamic_conv2d(x, torch.rand(1, 9, 4, 4), weight)


def test_autocast_bfloat16_forward_and_backward():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 6, 6, 6, generator=g, requires_grad=True)
    weight = torch.randn(4, 6, 3, 3, generator=g, requires_grad=True)
    conv = torch.nn.Conv2d(6, 9, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q = conv(x)  # bfloat16 under autocast
        taps = local_window_attention(q, q, q, 3, 7, position=torch.zeros(1, 3, 6, 6)).sigmoid()
        y = dynamic_conv2d(x, taps, weight)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()
    assert weight.grad is not None and weight.grad.dtype == torch.float32


def test_small_op_thread_policy_is_checked(monkeypatch):
    monkeypatch.setenv(attention.SMALL_OP_THREADS_ENV, "many")
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="RSMIF_SMALL_OP_THREADS"):
        local_window_attention(x, x, x, 1, 3)
