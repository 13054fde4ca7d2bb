"""CF2N's shared building blocks: the residual block (RB), adaptive weighted fusion (AWF) and the
parameter-free high/low-frequency split used by FDA, SDA, FSM and MDI.

CF2N was never released as code; these follow the paper's framework figure (``charts/framework.png``).
Where the figure leaves the inside of a box open, the docstring says what we chose.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rsmif_core import ChannelsLastConv2d

LEAKY_SLOPE = 0.01  # the LReLU of the figure's RB; 0.01 as in the authors' later RAMSF ResBlock


def conv(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Conv2d:
    """A bias-carrying 'same' convolution (odd kernel sizes), channels-last on CPU."""
    return ChannelsLastConv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


class RB(nn.Module):
    """The figure's residual block: ``Conv`` (in -> out), then ``Conv, LReLU, Conv`` with a skip.

    The leading convolution changes the channel count, so the same block is the "Head RB" on the raw
    PAN/MS images and the RB inside FDA and MDI.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = conv(in_channels, out_channels)
        self.body = nn.Sequential(
            conv(out_channels, out_channels),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            conv(out_channels, out_channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return y + self.body(y)


class AWF(nn.Module):
    """Adaptive weighted fusion of two C-channel maps ``a`` and ``b`` (the figure's Unique/Complementary box).

    Our reading of the box (the paper gives no equations we can copy):

    * **unique** = ``Conv1x1(a - b)``: what one input carries and the other lacks (point-wise: the
      difference is already local);
    * **complementary** = ``Conv([a, b])`` (``kernel_size``, 3×3 by default): what the two carry jointly;
    * the **adaptive weights**: a squeeze-and-excitation head on ``unique + complementary`` gives, per sample
      and channel, two logits; a softmax over the two parts makes them compete (the figure's circular arrows).
      The head uses LReLU rather than SE's ReLU: narrow heads otherwise start with all units dead.

    ``kernel_size=1`` makes a fully point-wise AWF (used inside SDA, whose output is a channel vector).
    """

    def __init__(self, channels: int, kernel_size: int = 3, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.channels = channels
        self.unique = conv(channels, channels, 1)
        self.complementary = conv(2 * channels, channels, kernel_size)
        self.weights = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            nn.Conv2d(hidden, 2 * channels, 1),
        )

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        unique = self.unique(a - b)
        complementary = self.complementary(torch.cat([a, b], dim=1))
        logits = self.weights(unique + complementary).view(-1, 2, self.channels, 1, 1)
        # softmax over the two parts == sigmoid of the logit difference; lerp fuses the weighted sum
        w_unique = torch.sigmoid(logits[:, 0] - logits[:, 1])
        return torch.lerp(complementary, unique, w_unique)


def low_pass(x: Tensor, size: int = 3) -> Tensor:
    """Local mean over a ``size``×``size`` window (border windows average only the pixels inside).

    The same values as ``F.avg_pool2d(x, size, 1, size // 2, count_include_pad=False)`` (up to the order of
    the sums): a depthwise box-sum convolution divided by each window's pixel count, which CPU backends
    run several times faster than the stride-1 average pooling and its backward.
    """
    channels, (height, width) = x.shape[1], x.shape[-2:]
    box = x.new_ones(channels, 1, size, size)
    return F.conv2d(x, box, padding=size // 2, groups=channels) * _inverse_window_counts(height, width, size, x)


def _inverse_window_counts(height: int, width: int, size: int, like: Tensor) -> Tensor:
    """1 / (pixels of each ``size``×``size`` window inside the image): H×W, separable in rows and columns."""
    r = size // 2

    def counts(n: int) -> Tensor:
        i = torch.arange(n, device=like.device)
        return (torch.clamp(i + r, max=n - 1) - torch.clamp(i - r, min=0) + 1).to(like.dtype)

    return 1 / (counts(height)[:, None] * counts(width)[None, :])


def split_frequencies(x: Tensor, size: int = 3) -> tuple[Tensor, Tensor]:
    """The figures' HF/LF split: ``(x - low_pass(x), low_pass(x))``. Parameter-free, any image size."""
    lf = low_pass(x, size)
    return x - lf, lf


def high_pass(x: Tensor, size: int = 3) -> Tensor:
    """The MDI block's ``HighPass``: ``x`` minus its local mean."""
    return x - low_pass(x, size)
