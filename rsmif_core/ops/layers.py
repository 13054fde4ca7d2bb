"""Layers that only change how a computation is laid out in memory, not what it computes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def channels_last(x: Tensor) -> Tensor:
    """``x`` (B×C×H×W) in channels-last layout, so the convolutions that read it run (and write) channels-last.

    A one-channel image (a PAN) is both "contiguous" and "channels-last" to ``contiguous()``, which then keeps
    its NCHW strides, and the convolution chooses NCHW for itself and every feature map after it. Its
    channels-last strides are set as a view instead (the same memory: the stride of a size-1 dimension is
    never used).
    """
    if x.shape[1] != 1:
        return x.contiguous(memory_format=torch.channels_last)
    x = x.contiguous()
    _, _, height, width = x.shape
    return x.as_strided(x.shape, (height * width, 1, width, 1), x.storage_offset())


class ChannelsLastConv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters and names, same function) that runs on channels-last input on CPU.

    oneDNN's CPU convolutions and their backward are faster on channels-last maps than on NCHW ones, which
    they reorder on every call; the output stays channels-last, so the next convolution gets it for free.
    Elsewhere (CUDA) the input is passed as it is.
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.device.type == "cpu" and input.ndim == 4:
            input = channels_last(input)
        return super().forward(input)


def pointwise_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.conv2d(x, weight, bias)`` for a 1×1 ``weight`` (M×N×1×1): the same function (up to the order of the
    sums), run on CPU NCHW input as one batched matrix product ``weight · x_b`` per sample.

    oneDNN's 1×1 convolutions on NCHW maps with few channels (the q/k/v projections of window attention,
    the attention heads of dynamic convolutions) reorder their input and output on every call; the matrix
    product reads the maps where they are. Channels-last input (where oneDNN is at home) and other devices
    go to ``F.conv2d``.
    """
    if weight.ndim != 4 or weight.shape[2:] != (1, 1):
        raise ValueError(f"pointwise_conv2d: weight must be M×N×1×1, found {tuple(weight.shape)}")
    if x.ndim != 4 or x.device.type != "cpu" or not x.is_contiguous() or x.shape[1] != weight.shape[1]:
        return F.conv2d(x, weight, bias)
    b, n, height, width = x.shape
    m = weight.shape[0]
    w = weight.view(1, m, n).expand(b, m, n)
    pixels = x.view(b, n, height * width)
    y = torch.bmm(w, pixels) if bias is None else torch.baddbmm(bias.view(1, m, 1), w, pixels)
    return y.view(b, m, height, width)


class PointwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(in_channels, out_channels, 1)`` (same parameters and names, same function) computed by
    :func:`pointwise_conv2d`."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        return pointwise_conv2d(input, self.weight, self.bias)
