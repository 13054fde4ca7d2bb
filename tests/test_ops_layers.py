"""Channels-last layers: the same values and parameter names as the NCHW ones, only another memory layout."""

from __future__ import annotations

import pytest
import torch

from rsmif_core import ChannelsLastConv2d, channels_last


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
