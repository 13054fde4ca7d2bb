"""The building blocks of {{ cookiecutter.__class_name }}. Rename them after your paper's figure."""

from __future__ import annotations

from torch import Tensor, nn


class ResidualBlock(nn.Module):
    """conv3×3 → ReLU → conv3×3, added to the input; zero padding keeps any H×W."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: reweights feature channels by a gate computed from their global means."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)
