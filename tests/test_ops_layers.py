"""Layout layers (channels-last, pointwise as matrix products): the same values and parameter names as the plain
convolutions, only another memory layout or kernel."""

from __future__ import annotations

import pytest
import torch

from rsmif_core import ChannelsLastConv2d, PointwiseConv2d, channels_last, pointwise_conv2d


@pytest.mark.parametrize("channels", [1, 3])
def test_channels_last_view_keeps_values_and_sets_the_layout(channels: int) -> None:
    x = torch.randn(2, channels, 4, 6)
    y = channels_last(x)
    assert torch.equal(y, x)
    assert y.stride() == (channels * 24, 1, 6 * channels, channels)  # a one-band PAN too
    conv = torch.nn.Conv2d(channels, 4, 3, padding=1)
    assert conv(y).is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("channels", [1, 9])
def test_channels_last_conv_equals_conv2d_with_the_same_state_dict(channels: int) -> None:
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(channels, 8, 5, padding=2).double()
    ours = ChannelsLastConv2d(channels, 8, 5, padding=2).double()
    ours.load_state_dict(reference.state_dict())  # same names and shapes: the authors' weights load
    x = torch.randn(2, channels, 12, 10, dtype=torch.float64, requires_grad=True)
    y = ours(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, reference(x), rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(y)
    got = torch.autograd.grad(y, [x, ours.weight, ours.bias], grad)
    want = torch.autograd.grad(reference(x), [x, reference.weight, reference.bias], grad)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "sliced", "pooled"])
@pytest.mark.parametrize("bias", [True, False])
def test_pointwise_conv_equals_conv2d_with_gradients(layout: str, bias: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 7, 5, 6, dtype=torch.float64)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "sliced":  # a channel slice of a larger map: not contiguous
        x = torch.randn(3, 10, 5, 6, dtype=torch.float64)[:, 2:9]
    elif layout == "pooled":
        x = x.mean((2, 3), keepdim=True)
    x.requires_grad_()
    weight = torch.randn(4, 7, 1, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True) if bias else None
    y = pointwise_conv2d(x, weight, b)
    reference = torch.nn.functional.conv2d(x, weight, b)
    torch.testing.assert_close(y, reference, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(y)
    inputs = [x, weight] + ([b] if b is not None else [])
    ours = torch.autograd.grad(y, inputs, g)
    theirs = torch.autograd.grad(reference, inputs, g)
    for a, r in zip(ours, theirs):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)


def test_pointwise_layer_has_the_conv_parameter_names_and_rejects_other_kernels() -> None:
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(9, 27, 1)
    ours = PointwiseConv2d(9, 27)
    ours.load_state_dict(reference.state_dict())
    assert isinstance(ours, torch.nn.Conv2d)  # initialisers that walk nn.Conv2d modules still find it
    x = torch.randn(2, 9, 8, 8)
    torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"M×N×1×1"):
        pointwise_conv2d(x, torch.randn(4, 9, 3, 3))
