"""RAMSF's learned building blocks, with the authors' attribute names so their weights load strict."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

LEAKY_SLOPE = 0.01  # nn.LeakyReLU() default, as in the authors' ResBlock


def conv_prelu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3×3 convolution + PReLU (the authors' ``blk_1_32``, ``blk_8_32`` and both encoders)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.PReLU())


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
