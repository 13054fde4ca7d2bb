"""Layers that only change how a computation is laid out in memory, not what it computes."""

from __future__ import annotations

import torch
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
