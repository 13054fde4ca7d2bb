"""RAMSF's learned building blocks, with the authors' attribute names so their weights load strict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

LEAKY_SLOPE = 0.01  # nn.LeakyReLU() default, as in the authors' ResBlock


def _flat_pair(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor] | None:
    """Both tensors as 1-D views in the same element order, when their memory layouts allow it."""
    if a.is_contiguous() and b.is_contiguous():
        return a.view(-1), b.view(-1)
    cl = torch.channels_last
    if a.ndim == 4 and a.is_contiguous(memory_format=cl) and b.is_contiguous(memory_format=cl):
        return a.permute(0, 2, 3, 1).reshape(-1), b.permute(0, 2, 3, 1).reshape(-1)
    return None


class _SharedSlopePReLU(torch.autograd.Function):
    """PReLU with one shared slope; the same values as ``F.prelu``, a cheaper backward.

    PyTorch's PReLU backward writes a full-size per-element weight gradient before reducing it (14 ms
    against 3 ms here for a 8×64×64×64 map, 1 thread). Here: the input gradient is LeakyReLU's backward
    with the slope as a scalar (``g`` where ``x > 0``, else ``slope·g``: the same products), and the slope
    gradient is one dot product ``Σ min(x, 0)·g``.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor) -> Tensor:
        ctx.save_for_backward(x, weight)
        return F.prelu(x, weight)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, weight = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.leaky_relu_backward(grad, x, weight.item(), False)
        if ctx.needs_input_grad[1]:
            flat = _flat_pair(x, grad)
            if flat is not None:
                grad_w = torch.dot(flat[0].clamp(max=0), flat[1]).reshape(weight.shape)
            else:
                grad_w = (x.clamp(max=0) * grad).sum().reshape(weight.shape)
        return grad_x, grad_w


class PReLU(nn.PReLU):
    """``nn.PReLU`` (same parameter, same values) with :class:`_SharedSlopePReLU`'s backward for one slope."""

    def forward(self, input: Tensor) -> Tensor:
        if self.weight.numel() != 1:
            return super().forward(input)
        out: Tensor = _SharedSlopePReLU.apply(input, self.weight)
        return out


def conv_prelu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3×3 convolution + PReLU (the authors' ``blk_1_32``, ``blk_8_32`` and both encoders)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), PReLU())


class ResBlock(nn.Module):
    """``x + conv1(LeakyReLU(conv0(x)))`` with 3×3 convolutions (the figure's RB).

    The activation runs in place on ``conv0``'s output (which nothing else reads), so training keeps
    one feature map fewer per block than the authors' separate ``nn.LeakyReLU`` module.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        if in_channels != out_channels:
            raise ValueError(f"ResBlock: the identity skip needs in_channels == out_channels, found {in_channels} and {out_channels}")
        self.conv0 = nn.Conv2d(in_channels, hidden_channels, 3, 1, 1)
        self.conv1 = nn.Conv2d(hidden_channels, out_channels, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv1(F.leaky_relu(self.conv0(x), LEAKY_SLOPE, inplace=True))


class MLP(nn.Module):
    """Linear/ReLU stack ``in → hidden… → out`` under ``layers`` (indices 0, 2, 4 hold the Linear layers).

    Kept as a module for the parameter names; :func:`rsmif_ramsf.query.coordinate_query` reads its
    Linear layers directly because it evaluates the first layer in factorised form.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("MLP: needs at least one hidden layer (the first layer is evaluated in factorised form)")
        layers: list[nn.Module] = []
        last = in_dim
        for width in hidden:
            layers += [nn.Linear(last, width), nn.ReLU()]
            last = width
        layers.append(nn.Linear(last, out_dim))
        self.layers = nn.Sequential(*layers)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def forward(self, x: Tensor) -> Tensor:
        """The plain MLP on rows of ``x`` (the authors' formulation; used by tests as a cross-check)."""
        return self.layers(x)
