"""Reference methods that make the core usable without any method plugin."""

from __future__ import annotations

import torch
from torch import nn

from rsmif_core.ops.layers import ChannelsLastConv2d
from rsmif_core.types import Batch, FusionModel, FusionOutput


class PNN(FusionModel):
    """PNN (Masi, Cozzolino, Verdoliva, Scarpa, Remote Sensing 2016): 9×9, 5×5, 5×5 convolutions.

    Input is concat(lms, guide) on the guide grid, so any band count, guide and ratio work.
    ``residual=True`` (default) predicts lms + correction, the variant later PNN papers train with;
    ``residual=False`` is the original direct regression. Zero padding keeps the size (the original
    used valid convolutions and cropped the reference).
    On CPU the convolutions run on channels-last maps (:class:`~rsmif_core.ops.layers.ChannelsLastConv2d`);
    the output is NCHW either way.
    """

    receptive_field = 8  # 9×9, 5×5, 5×5 convolutions: 4 + 2 + 2 guide pixels

    def __init__(
        self,
        spectral_bands: int,
        guide_bands: int,
        ratio: int,
        channels: tuple[int, int] = (64, 32),
        residual: bool = True,
    ) -> None:
        super().__init__(spectral_bands, guide_bands, ratio)
        c1, c2 = channels
        self.residual = residual
        self.body = nn.Sequential(
            ChannelsLastConv2d(spectral_bands + guide_bands, c1, 9, padding=4),
            nn.ReLU(inplace=True),
            ChannelsLastConv2d(c1, c2, 5, padding=2),
            nn.ReLU(inplace=True),
            ChannelsLastConv2d(c2, spectral_bands, 5, padding=2),
        )

    def forward(self, batch: Batch) -> FusionOutput:
        out = self.body(torch.cat([batch.lms, batch.pan], dim=1)).contiguous()
        return FusionOutput(fused=batch.lms + out if self.residual else out)


class EXP(FusionModel):
    """EXP: returns the upsampled spectral image (lms) unchanged; the floor every method must beat."""

    receptive_field = 0

    def __init__(self, spectral_bands: int, guide_bands: int, ratio: int) -> None:
        super().__init__(spectral_bands, guide_bands, ratio)

    def forward(self, batch: Batch) -> FusionOutput:
        return FusionOutput(fused=batch.lms.clone())
