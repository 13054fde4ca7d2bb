"""RAMSF's building blocks equal the PyTorch modules they replace (values and gradients, float64)."""

from __future__ import annotations

import pytest
import torch
from rsmif_ramsf.blocks import PReLU, _SharedSlopePReLU

LAYOUTS = {
    "nchw": lambda x: x,
    "channels-last": lambda x: x.contiguous(memory_format=torch.channels_last),
    "transposed": lambda x: x.transpose(2, 3),  # neither layout: the fallback path
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("channels", [1, 5])
def test_prelu_matches_nn_prelu(layout, channels):
    torch.manual_seed(0)
    x = LAYOUTS[layout](torch.randn(2, channels, 6, 7, dtype=torch.float64)).requires_grad_()
    grad = LAYOUTS[layout](torch.randn(2, channels, 6, 7, dtype=torch.float64))
    ours, reference = PReLU().double(), torch.nn.PReLU().double()
    ours.weight.data.fill_(0.3)
    reference.weight.data.fill_(0.3)
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)
    got = torch.autograd.grad(ours(x), [x, ours.weight], grad)
    want = torch.autograd.grad(reference(x), [x, reference.weight], grad)
    torch.testing.assert_close(got[0], want[0], rtol=0, atol=0)
    torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-12)


def test_prelu_gradcheck_and_per_channel_slopes():
    torch.manual_seed(1)
    x = torch.randn(1, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    slope = torch.full((1,), 0.2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_SharedSlopePReLU.apply, (x, slope))
    per_channel = PReLU(num_parameters=3).double()
    torch.testing.assert_close(per_channel(x), torch.nn.functional.prelu(x, per_channel.weight))
