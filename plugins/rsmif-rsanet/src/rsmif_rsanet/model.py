"""RSANet as an RSMIF :class:`~rsmif_core.FusionModel`: any guide, any band count, any ratio, any size ≥ 4."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rsmif_core import Batch, FusionModel, FusionOutput
from rsmif_rsanet.blocks import RSAM, RSARB


class RSANet(FusionModel):
    """RSANet (Liu et al., IEEE JSTARS 2023): head RSAM + ReLU, ``blocks`` residual RSAM blocks, tail RSAM,
    output ``lms + tail`` (a global residual on the upsampled spectral image).

    Input: ``concat(pan, lms)`` on the guide grid (guide bands first, as the authors concatenate).
    The authors' code fixes 1 PAN + 8 MS bands (head 9 → 32, tail 32 → 8); here the head takes
    ``guide_bands + spectral_bands`` and the tail returns ``spectral_bands``, so with 8 + 1 the parameter
    names and shapes are the authors'. The network never resamples, so the ratio only matters through
    ``lms`` (for ratio 1, e.g. SAR-optical, lms is the spectral image itself); it works for any H, W ≥ 4
    (the 7×7 reflection-padded attention windows need more pixels than the padding).

    Hyper-parameters (authors' values as defaults): ``features`` 32, ``blocks`` 3 (named RB1…RBn),
    ``kernel_att`` 7, ``kernel_conv`` 3, ``heads`` 3 (must divide kernel_conv²), ``recursions`` 4 (SA layers per RSAM);
    ``attention_impl`` "auto" / "fused" / "views" picks how the attention windows are computed (same numbers to
    float rounding; see :func:`rsmif_core.local_window_attention`).
    """

    speed_arguments = ("attention_impl",)
    # The attention's positional term is conv_p of a position grid spanning the input, so every output depends
    # on the input's size: tiles never equal whole-image inference exactly (its local reach is 96 guide pixels).
    receptive_field = None

    authors_unused_keys = (r"\.dep_conv\.(weight|bias)$",)

    def __init__(
        self,
        spectral_bands: int,
        guide_bands: int,
        ratio: int,
        features: int = 32,
        blocks: int = 3,
        kernel_att: int = 7,
        kernel_conv: int = 3,
        heads: int = 3,
        recursions: int = 4,
        attention_impl: str = "auto",
    ) -> None:
        super().__init__(spectral_bands, guide_bands, ratio)
        if blocks < 0:
            raise ValueError(f"RSANet: blocks must be >= 0, found {blocks}")
        opts: dict[str, Any] = dict(kernel_att=kernel_att, kernel_conv=kernel_conv, heads=heads, recursions=recursions,
                                    attention_impl=attention_impl)
        self.min_size = kernel_att // 2 + 1
        self.num_blocks = blocks
        self.head_conv = nn.Sequential(RSAM(guide_bands + spectral_bands, features, **opts), nn.ReLU(inplace=True))
        for i in range(1, blocks + 1):
            self.add_module(f"RB{i}", RSARB(features, **opts))
        self.tail_conv = RSAM(features, spectral_bands, **opts)

    def forward(self, batch: Batch) -> FusionOutput:
        pan, lms = batch.pan, batch.lms
        if pan.shape[1] != self.guide_bands or lms.shape[1] != self.spectral_bands:
            raise ValueError(f"RSANet: built for {self.guide_bands} guide + {self.spectral_bands} spectral bands, "
                             f"got pan {tuple(pan.shape)} and lms {tuple(lms.shape)}")
        h, w = lms.shape[-2:]
        if h < self.min_size or w < self.min_size:
            raise ValueError(f"RSANet: images must be at least {self.min_size}×{self.min_size} pixels "
                             f"(reflection-padded {2 * self.min_size - 1}×{2 * self.min_size - 1} attention windows), "
                             f"got {h}×{w}")
        x = self.head_conv(torch.cat([pan, lms], 1))
        for i in range(1, self.num_blocks + 1):
            x = getattr(self, f"RB{i}")(x)
        return FusionOutput(fused=lms + self.tail_conv(x))
