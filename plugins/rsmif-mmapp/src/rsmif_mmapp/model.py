"""MMAPP network (Zhang et al., IEEE JSTARS 2024) as an RSMIF FusionModel, on every task."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from rsmif_core import Batch, FusionModel, FusionOutput
from rsmif_mmapp.blocks import AFM, PS, FACResBlock, MSBranch, PanBranch, authors_init

MIN_LEVEL1_SIZE = 4  # ACmix reflection-pads its 7×7 windows by 3, which needs at least 4 pixels


def pyramid_steps(ratio: int) -> tuple[int, int]:
    """The two upsampling factors (spectral grid → level 2 → guide grid) whose product is ``ratio``.

    The first is the largest divisor of ``ratio`` not above √ratio: 4 → (2, 2) as the authors,
    2 → (1, 2), 8 → (2, 4), 1 → (1, 1).
    """
    first = max(d for d in range(1, ratio + 1) if ratio % d == 0 and d * d <= ratio)
    return first, ratio // first


class MMAPP(FusionModel):
    """Multi-branch multi-scale adaptive progressive pyramid network.

    A PAN branch (TSAM), an MS branch (SICM) and a fusion branch (AFM on ACmix) meet at three
    levels: the spectral grid (``out1``), level 2 (``out2``) and the guide grid (``fused``, the
    authors' ``out3``); ``ms_u4`` is the MS branch's own estimate on the guide grid. The three
    pyramid outputs and ``ms_u4`` are returned in ``extras`` for the ``mmapp_multiscale`` loss.

    Hyper-parameters: ``features`` (32, the authors' width; the fusion levels use ``features`` and
    ``features + 2·side_bands``), ``side_bands`` (channels of the PAN-branch and level-2 MS-branch
    projections fed to the fusion branch; default ``spectral_bands`` as the authors, who have 8),
    ``steps`` (the two upsampling factors, default :func:`pyramid_steps`). For ratio 4 the levels are
    1/4, 1/2 and 1 of the guide grid as in the paper; ratio 2 gives 1/2, 1/2, 1 (the first step is an
    identity: its pixel shuffle becomes a plain 3×3 convolution, its max-pool an identity); ratio 1
    (SAR-optical) gives three successive refinements on one grid, and the multiscale loss becomes deep
    supervision of each stage at full resolution.
    """

    authors_unused_keys: ClassVar[tuple[str, ...]] = (r"^F3\.",)  # built by the authors, never called
    receptive_field = None  # global average pooling in its attention blocks: no margin is enough

    def __init__(
        self,
        spectral_bands: int,
        guide_bands: int,
        ratio: int,
        features: int = 32,
        side_bands: int | None = None,
        steps: tuple[int, int] | list[int] | None = None,
    ) -> None:
        side = spectral_bands if side_bands is None else int(side_bands)
        up1, up2 = pyramid_steps(ratio) if steps is None else (int(steps[0]), int(steps[1]))
        if up1 < 1 or up2 < 1 or up1 * up2 != ratio:
            raise ValueError(f"MMAPP: steps {steps!r} must be two positive integers whose product is the ratio {ratio}")
        if features < 1 or side < 1:
            raise ValueError(f"MMAPP: features ({features}) and side_bands ({side}) must be positive")
        super().__init__(spectral_bands, guide_bands, ratio)
        self.steps = (up1, up2)
        wide = features + 2 * side
        self.head_conv = AFM(spectral_bands + side, features)
        self.head_relu = nn.PReLU()
        self.pb = PanBranch(guide_bands, side, features, pool2=up2, pool1=up1)
        self.mb = MSBranch(spectral_bands, side, features, up1=up1, up2=up2)
        self.F1 = nn.Sequential(FACResBlock(features))
        self.conv_f1 = nn.Conv2d(features, spectral_bands, 3, padding=1)
        self.up1 = PS(features, up1)
        self.up1_relu = nn.LeakyReLU(0.2)
        self.F2 = nn.Sequential(FACResBlock(wide))
        self.conv_f2 = nn.Conv2d(wide, spectral_bands, 3, padding=1)
        self.up2 = PS(wide, up2)
        self.up2_relu = nn.LeakyReLU(0.2)
        self.conv_f3 = nn.Conv2d(wide, spectral_bands, 3, padding=1)
        self.tail_conv = nn.Sequential(
            AFM(2 * spectral_bands + guide_bands, spectral_bands),
            nn.ReLU(),
            AFM(spectral_bands, spectral_bands),
        )
        authors_init(self)

    def _check(self, ms: Tensor, pan: Tensor) -> None:
        if ms.shape[1] != self.spectral_bands or pan.shape[1] != self.guide_bands:
            raise ValueError(
                f"MMAPP built for {self.spectral_bands} spectral + {self.guide_bands} guide bands, "
                f"got ms with {ms.shape[1]} and pan with {pan.shape[1]}"
            )
        if tuple(pan.shape[-2:]) != (ms.shape[-2] * self.ratio, ms.shape[-1] * self.ratio):
            raise ValueError(
                f"MMAPP (ratio {self.ratio}): pan {tuple(pan.shape[-2:])} must be ms {tuple(ms.shape[-2:])} × {self.ratio}"
            )
        if min(ms.shape[-2:]) < MIN_LEVEL1_SIZE:
            raise ValueError(
                f"MMAPP needs the spectral image to be at least {MIN_LEVEL1_SIZE}×{MIN_LEVEL1_SIZE} pixels "
                f"(7×7 reflection-padded attention windows), got {ms.shape[-2]}×{ms.shape[-1]}"
            )

    def pyramid(self, ms: Tensor, pan: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The authors' ``forward(ms, pan)``: (out1, out2, out3, ms_u4)."""
        self._check(ms, pan)
        pan, pan_d2, pan_d4 = self.pb(pan)
        ms, ms_u2, ms_u4 = self.mb(ms)
        f1 = self.F1(self.head_relu(self.head_conv(torch.cat((ms, pan_d4), 1))))
        out1 = self.conv_f1(f1)
        f2 = torch.cat((self.up1_relu(self.up1(f1)), ms_u2, pan_d2), 1)
        f2 = self.F2(f2)
        out2 = self.conv_f2(f2)
        f3 = self.conv_f3(self.up2_relu(self.up2(f2)))
        out3 = self.tail_conv(torch.cat((f3, pan, ms_u4), 1))
        return out1, out2, out3, ms_u4

    def forward(self, batch: Batch) -> FusionOutput:
        out1, out2, out3, ms_u4 = self.pyramid(batch.ms, batch.pan)
        return FusionOutput(fused=out3, extras={"out1": out1, "out2": out2, "ms_u4": ms_u4})
