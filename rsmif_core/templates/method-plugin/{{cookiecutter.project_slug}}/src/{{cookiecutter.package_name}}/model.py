{%- set tasks = cookiecutter.tasks.split(",") | map("trim") | reject("equalto", "") | list -%}
"""{{ cookiecutter.__class_name }}, the network registered as ``{{ cookiecutter.method_name }}``.

This is the template's starting network, small but real: a residual detail-injection CNN,
``fused = lms + D(concat(lms, guide))``. Replace the body with yours and keep the two contracts:
the constructor ``(spectral_bands, guide_bands, ratio, <your hyperparameters as keyword parameters
with defaults>)`` (never ``**kwargs``: a misspelt ``model.args`` key must be an error) and
``forward(batch) -> FusionOutput``.

It works on the guide grid, so every task fits without special cases: any number of spectral
bands, any guide (PAN 1 band, SAR 2, RGB 3), any ratio (1 for SAR-optical, where ``lms`` is
``ms`` on the same grid; 2 or 4 otherwise), and any H×W (3×3 convolutions with zero padding).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from rsmif_core import Batch, FusionModel, FusionOutput
from torch import nn

from {{ cookiecutter.package_name }}.blocks import ChannelAttention, ResidualBlock


class {{ cookiecutter.__class_name }}(FusionModel):
    """{{ cookiecutter.__summary }}.

    Hyperparameters (``model.args`` in a run file): ``channels`` feature width, ``num_blocks``
    residual blocks. Unknown arguments are an error rather than silently ignored, so a typo in a
    config is caught when the config is loaded; ``self.arguments`` records the values used.
    """

    tasks: ClassVar[tuple[str, ...]] = ({{ tasks | map("tojson") | join(", ") }}{{ "," if tasks | length == 1 }})

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int, channels: int = 32, num_blocks: int = 3) -> None:
        super().__init__(spectral_bands, guide_bands, ratio)
        if channels < 1 or num_blocks < 0:
            raise ValueError(
                f"{type(self).__name__}: channels must be ≥ 1 and num_blocks ≥ 0, found {channels} and {num_blocks}"
            )
        self.head = nn.Conv2d(spectral_bands + guide_bands, channels, 3, padding=1)
        self.body = nn.Sequential(*(ResidualBlock(channels) for _ in range(num_blocks)))
        self.attention = ChannelAttention(channels)
        self.tail = nn.Conv2d(channels, spectral_bands, 3, padding=1)

    def forward(self, batch: Batch) -> FusionOutput:
        features = self.head(torch.cat([batch.lms, batch.pan], dim=1))
        detail = self.tail(self.attention(self.body(features)))
        return FusionOutput(fused=batch.lms + detail)
