"""rsmif_core.ops.attention against a literal unfold-based transcription of the ACmix / RSAM maths."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rsmif_core.ops import attention
from rsmif_core.ops.attention import (
    dynamic_conv2d,
    local_window_attention,
    position_grid,
)

IMPLS = ["fused", "views"]


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


# (B, C, H, W): odd sizes, batch 1, a 4×4 image under 7×7 windows (the smallest that reflection padding allows)
SHAPES = [(2, 9, 12, 10), (1, 6, 4, 5), (1, 9, 4, 4), (3, 9, 7, 13)]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", SHAPES)
def test_attention_matches_unfolded(shape, impl):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(shape, generator=g) for _ in range(3))
    heads = 3
    pe = torch.randn(1, shape[1] // heads, *shape[2:], generator=g)
    ours = local_window_attention(q, k, v, heads, 7, position=pe, impl=impl)
    ref = unfolded_attention(q.double(), k.double(), v.double(), heads, 7, pe.double())
    assert ours.dtype == torch.float32
    assert (ours - ref).abs().max() <= 1e-5 * ref.abs().max()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [(2, 9, 8, 9), (1, 9, 4, 4)])
def test_attention_gradients_match_unfolded(impl, shape):
    g = torch.Generator().manual_seed(1)
    tensors = [torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    pe = torch.randn(1, 3, *shape[2:], generator=g, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(shape, generator=g, dtype=torch.float64)
    ours = torch.autograd.grad(local_window_attention(*tensors, 3, 7, position=pe, impl=impl), [*tensors, pe], grad_out)
    ref = torch.autograd.grad(unfolded_attention(*tensors, 3, 7, pe), [*tensors, pe], grad_out)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


def test_fused_attention_float32_gradients_match_float64():
    g = torch.Generator().manual_seed(6)
    tensors = [torch.randn(2, 9, 11, 6, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    grad_out = torch.randn(2, 9, 11, 6, generator=g, dtype=torch.float64)
    ref = torch.autograd.grad(unfolded_attention(*tensors, 3, 7, torch.zeros(1, 3, 11, 6, dtype=torch.float64)),
                              tensors, grad_out)
    single = [t.detach().float().requires_grad_() for t in tensors]
    ours = torch.autograd.grad(local_window_attention(*single, 3, 7, impl="fused"), single, grad_out.float())
    for a, b in zip(ours, ref):
        assert a.dtype == torch.float32
        assert (a.double() - b).abs().max() <= 1e-5 * b.abs().max()


def test_fused_attention_with_a_peaked_softmax_matches_float64_and_keeps_nan():
    # logits spread over hundreds: most window terms fall below 2**-64 (taken as 0, no subnormal products)
    g = torch.Generator().manual_seed(7)
    tensors = [(torch.randn(2, 9, 10, 12, generator=g, dtype=torch.float64) * 12).requires_grad_() for _ in range(3)]
    grad_out = torch.randn(2, 9, 10, 12, generator=g, dtype=torch.float64)
    ref_out = unfolded_attention(*tensors, 3, 7, torch.zeros(1, 3, 10, 12, dtype=torch.float64))
    ref = torch.autograd.grad(ref_out, tensors, grad_out)
    single = [t.detach().float().requires_grad_() for t in tensors]
    out = local_window_attention(*single, 3, 7, impl="fused")
    assert (out.double() - ref_out).abs().max() <= 1e-5 * ref_out.abs().max()
    for a, b in zip(torch.autograd.grad(out, single, grad_out.float()), ref):  # float32 logits of a few hundred
        assert (a.double() - b).abs().max() <= 1e-4 * b.abs().max()
    q = single[0].detach().clone()
    q[0, 0, 5, 5] = float("nan")
    assert local_window_attention(q, single[1].detach(), single[2].detach(), 3, 7, impl="fused")[0, :3, 5, 5].isnan().all()


def test_fused_attention_gradcheck():
    g = torch.Generator().manual_seed(4)
    args = [torch.randn(1, 4, 4, 5, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(lambda q, k, v: local_window_attention(q, k, v, 2, 3, impl="fused"), args)


def test_fused_attention_output_may_be_changed_in_place():
    """Backward uses the output (Σ_t P·dP = g·out); an in-place ReLU on it afterwards must not change the gradients."""
    g = torch.Generator().manual_seed(6)
    tensors = [torch.randn(2, 6, 8, 9, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    grad_out = torch.randn(2, 6, 8, 9, generator=g, dtype=torch.float64)
    grads = []
    for impl in ("fused", "views"):
        out = torch.relu_(local_window_attention(*tensors, 2, 5, impl=impl))
        grads.append(torch.autograd.grad(out, tensors, grad_out))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("images", [1, 4])  # one position map for all images and heads, or one per image and head
def test_fused_attention_gradcheck_with_position(images):
    g = torch.Generator().manual_seed(5)
    args = [torch.randn(2, 4, 4, 5, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    pe = torch.randn(images, 2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda q, k, v, p: local_window_attention(q, k, v, 2, 3, position=p, scale=0.7, impl="fused"), [*args, pe])


@pytest.mark.parametrize("impl", IMPLS)
def test_attention_takes_non_contiguous_inputs(impl):
    """q, k, v as channel slices of one fused q/k/v map, and a channels-last input."""
    g = torch.Generator().manual_seed(7)
    qkv = torch.randn(2, 27, 9, 8, generator=g)
    q, k, v = qkv.chunk(3, dim=1)
    pe = torch.randn(1, 3, 9, 8, generator=g)
    ref = local_window_attention(q.contiguous(), k.contiguous(), v.contiguous(), 3, 7, position=pe, impl=impl)
    torch.testing.assert_close(local_window_attention(q, k, v, 3, 7, position=pe, impl=impl), ref, rtol=0, atol=0)
    last = q.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(local_window_attention(last, k, v, 3, 7, position=pe, impl=impl), ref, rtol=0, atol=0)


def test_fused_attention_does_not_depend_on_the_thread_count():
    g = torch.Generator().manual_seed(8)
    shape = (4, 9, 64, 64)  # 12 images × 4096 pixels: three parts of the kernels' work with 3 threads
    q, k, v = (torch.randn(shape, generator=g, requires_grad=True) for _ in range(3))
    grad_out = torch.randn(shape, generator=g)
    previous = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            out = local_window_attention(q, k, v, 3, 7, impl="fused")
            results.append((out, *torch.autograd.grad(out, (q, k, v), grad_out)))
    finally:
        torch.set_num_threads(previous)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)


def test_attention_rejects_bad_input():
    x = torch.zeros(1, 9, 3, 8)
    with pytest.raises(ValueError, match="at least 4"):
        local_window_attention(x, x, x, 3, 7)
    y = torch.zeros(1, 8, 8, 8)
    with pytest.raises(ValueError, match="heads"):
        local_window_attention(y, y, y, 3, 7)
    with pytest.raises(ValueError, match="impl"):
        local_window_attention(y, y, y, 2, 7, impl="shifts")


@pytest.mark.parametrize(("in_planes", "out_planes"), [(5, 4), (1, 6), (3, 5), (4, 4)])
@pytest.mark.parametrize("padding", [1, 0, 2])
@pytest.mark.parametrize("piece_elements", [1, 200, attention.PIECE_ELEMENTS])
def test_dynamic_conv_per_pixel_matches_unfolded(in_planes, out_planes, padding, piece_elements):
    """Narrower and wider outputs than inputs (AFM; TSAM's 1 -> 32 head), and pieces of one row, a few rows and
    a whole sample, equal the unfold formulation."""
    g = torch.Generator().manual_seed(in_planes * 10 + out_planes)
    x = torch.randn(2, in_planes, 9, 7, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(out_planes, in_planes, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    size = (9 + 2 * padding - 2, 7 + 2 * padding - 2)
    taps = torch.rand(2, 9, *size, generator=g, dtype=torch.float64, requires_grad=True)
    ours = attention._dynamic_conv_per_pixel(x, taps, weight, padding, piece_elements)
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
    ours = dynamic_conv2d(x, taps, weight, padding=1)
    ref = unfolded_dynamic_conv(x, taps[:, :, None, None], weight, 1)
    torch.testing.assert_close(ours, ref)
    grad_out = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(ours, (x, taps, weight), grad_out),
                    torch.autograd.grad(ref, (x, taps, weight), grad_out)):
        torch.testing.assert_close(a, b)


def test_dynamic_conv_errors():
    x = torch.randn(1, 2, 5, 5)
    weight = torch.randn(3, 2, 3, 3)
    taps = torch.rand(1, 9, 5, 5)
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


def test_dynamic_conv_takes_non_contiguous_inputs():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 4, 6, 7, generator=g).contiguous(memory_format=torch.channels_last)
    taps = torch.rand(2, 6, 7, 9, generator=g).permute(0, 3, 1, 2)  # B×9×H×W, non-contiguous
    weight = torch.randn(3, 4, 3, 3, generator=g)
    ref = unfolded_dynamic_conv(x.contiguous(), taps.contiguous(), weight, 1)
    assert (dynamic_conv2d(x, taps, weight) - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_ops_run_under_torch_compile():
    """torch.compile treats the CPU kernels as opaque calls (graph breaks) and traces the rest; the AOT-autograd
    backend checks that without a C++ compiler."""
    g = torch.Generator().manual_seed(10)
    x = torch.randn(2, 4, 8, 8, generator=g, requires_grad=True)
    conv = torch.nn.Conv2d(4, 27, 1)
    weight = torch.randn(5, 4, 3, 3, generator=g, requires_grad=True)

    def block(x):
        q, k, v = conv(x).chunk(3, dim=1)
        taps = local_window_attention(q, k, v, 3, 7).sigmoid()
        return dynamic_conv2d(x, taps, weight)

    grad_out = torch.randn(2, 5, 8, 8, generator=g)
    expected = block(x)
    expected_grads = torch.autograd.grad(expected, (x, weight), grad_out)
    compiled = torch.compile(block, backend="aot_eager")
    out = compiled(x)
    torch.testing.assert_close(out, expected)
    for a, b in zip(torch.autograd.grad(out, (x, weight), grad_out), expected_grads):
        torch.testing.assert_close(a, b)
