"""RAMSF (Liu, Zhang, Wang, IEEE TGRS 2025) as an RSMIF FusionModel, on every task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from rsmif_core import Batch, FusionModel, FusionOutput, channels_last, haar_dwt, haar_iwt
from rsmif_ramsf.blocks import MLP, ResBlock, conv_prelu
from rsmif_ramsf.query import LastLayer, Recompute, check_query_options, coordinate_query

HAAR_GROUPS = 4  # the inverse Haar transform reads its input as four channel groups (LL, HL, LH, HH)


class RAMSF(FusionModel):
    """Generic multimodal spatial-spectral fusion: LHSDR details, then CSFPA coordinate alignment.

    **LHSDR** (low-frequency-driven high-frequency salient detail reconstruction): head convolutions
    and residual blocks on the guide (PAN/RGB/SAR) and on ``lms``, a Haar DWT of both, residual blocks
    on the summed HL, LH and HH sub-bands, a hierarchical merge (HL + LH, then + HH) and an inverse Haar
    transform of (merged high bands + the guide's LL band) → the detail map ``D`` (``feat_dim/4``
    channels on the guide grid).

    **CSFPA** (coordinate-mode spatial-spectral feature progressive alignment): ``D`` is encoded into
    the guide features (``hr_spa``) and 2×2 max-pooled into a half-resolution guide; ``ms`` is encoded
    into spectral features on its own grid. Two coordinate-query stages (``imnet_64``: spectral grid →
    half guide grid, ``imnet_128``: half → full guide grid) read the coarser features at the four
    bracketing cells of every fine pixel with learned softmax weights. The output is ``lms`` plus the
    second stage's result.

    Differences from the authors' ``Network`` (``models/MSIP/RAMSF.py``), none of which changes the
    output where theirs runs:

    * Any even guide size. They pool the guide with ``AdaptiveMaxPool2d((H//2, W//2))`` for the
      constructor's ``H, W``, so any other input size fails; we pool by 2 (identical for their size).
      Odd sizes raise a clear error (the Haar transform needs even sizes).
    * ``ms`` can have any size (all ratios: 1 for SAR-optical, 2 for Landsat, 4, …); the first query
      reads it on its own grid. ``ratio`` is not used by the network.
    * ``guide_dim`` sets the width of the guide features (the spatial encoder's output); theirs outputs
      ``feat_dim`` channels, so ``guide_dim != feat_dim`` crashed.
    * The coordinate queries are computed without materialising per-neighbour inputs (see
      :mod:`rsmif_ramsf.query`) and the convolutions run channels-last; the results equal theirs up
      to float32 summation order (≤ 2.7e-7 × max|ref| on the five golden files).
    * No ``.cuda()`` calls; the model follows ``.to(device/dtype)`` (theirs forces float32 in the IWT).
    * The lms branch's LL band is computed and discarded, as theirs does (kept for weight compatibility).

    Hyper-parameters (the authors' names in brackets): ``feat_dim`` [feat_dim] = 64, ``guide_dim``
    [guide_dim] = 64, ``mlp_dim`` [mlp_dim] = (256, 128), ``nir_dim`` [NIR_dim] = 33 (the first stage
    outputs ``nir_dim − 1`` channels plus one logit).

    How the coordinate queries are evaluated (same numbers up to float summation order; speed and memory
    only), passed to :func:`rsmif_ramsf.query.coordinate_query`: ``query_block_rows`` = 8192 (MLP rows per
    work block), ``query_recompute`` = "first" (what backward rebuilds: "first", "all" or "none"),
    ``query_last_layer`` = "auto" ("per_neighbour", "after_ensemble" or "auto").
    """

    speed_arguments = ("query_block_rows", "query_recompute", "query_last_layer")
    # Measured (rsmif_core.evaluation.scene.measure_receptive_field; tiles agree to 1.2e-7 beyond it). One Haar level
    # and one 2× pooling on the guide grid: tile origins on even pixels. The outermost 3 pixels of an image still
    # depend on its size (the zero-padded coordinate map of the queries), whole or tiled.
    receptive_field = 19
    tile_alignment = 2

    def __init__(
        self,
        spectral_bands: int,
        guide_bands: int,
        ratio: int,
        feat_dim: int = 64,
        guide_dim: int = 64,
        mlp_dim: Sequence[int] = (256, 128),
        nir_dim: int = 33,
        *,
        query_block_rows: int = 8192,
        query_recompute: Recompute = "first",
        query_last_layer: LastLayer = "auto",
    ) -> None:
        mlp_dims = tuple(int(d) for d in mlp_dim)
        super().__init__(spectral_bands, guide_bands, ratio)
        check_query_options(query_block_rows, query_recompute, query_last_layer)
        self.query_options: dict[str, Any] = {
            "block_rows": query_block_rows,
            "recompute": query_recompute,
            "last_layer": query_last_layer,
        }
        if feat_dim < HAAR_GROUPS or feat_dim % HAAR_GROUPS:
            raise ValueError(f"RAMSF: feat_dim must be a positive multiple of 4 (the inverse Haar groups), found {feat_dim}")
        if guide_dim < 1 or nir_dim < 2 or not mlp_dims or min(mlp_dims) < 1:
            raise ValueError(
                f"RAMSF: need guide_dim ≥ 1, nir_dim ≥ 2 and positive mlp_dim widths; found {guide_dim}, {nir_dim}, {mlp_dims}"
            )
        # LHSDR
        self.blk_1_32 = conv_prelu(guide_bands, feat_dim)
        self.blk_8_32 = conv_prelu(spectral_bands, feat_dim)
        self.DE_pan = ResBlock(feat_dim, feat_dim, feat_dim)
        self.DE_lms = ResBlock(feat_dim, feat_dim, feat_dim)
        self.DE_HL = ResBlock(feat_dim, feat_dim, feat_dim)
        self.DE_LH = ResBlock(feat_dim, feat_dim, feat_dim)
        self.DE_HH = ResBlock(feat_dim, feat_dim, feat_dim)
        self.DE_HH_HH = ResBlock(feat_dim, feat_dim, feat_dim)
        self.DE_PAN = ResBlock(feat_dim, feat_dim, feat_dim)
        # CSFPA
        self.spatial_encoder = conv_prelu(feat_dim // HAAR_GROUPS, guide_dim)
        self.spectral_encoder = conv_prelu(spectral_bands, feat_dim)
        self.imnet_64 = MLP(feat_dim + guide_dim + 2, nir_dim, mlp_dims)
        self.imnet_128 = MLP(nir_dim - 1 + guide_dim + 2, spectral_bands + 1, mlp_dims)

    def details(self, pan: Tensor, lms: Tensor) -> Tensor:
        """LHSDR: the detail map D (B × feat_dim/4 × H × W) from the guide and the upsampled spectral image."""
        p_ll, p_hl, p_lh, p_hh = haar_dwt(self.DE_pan(self.blk_1_32(pan)))
        _, m_hl, m_lh, m_hh = haar_dwt(self.DE_lms(self.blk_8_32(lms)))
        f_hl = self.DE_HL(p_hl + m_hl)
        f_lh = self.DE_LH(p_lh + m_lh)
        f_hh = self.DE_HH(p_hh + m_hh)
        f_hp = self.DE_PAN(self.DE_HH_HH(f_hl + f_lh) + f_hh)
        return haar_iwt(f_hp + p_ll)

    def residual(self, pan: Tensor, lms: Tensor, ms: Tensor) -> Tensor:
        """The network's output before the global skip: B × C × H × W (a view of an H×W×B×C tensor)."""
        height, width = pan.shape[-2:]
        if height % 2 or width % 2:
            raise ValueError(
                f"RAMSF: the guide image must have an even height and width (Haar wavelet, 2× pooling), found {height}×{width}; "
                "crop or pad it by one pixel"
            )
        detail = self.details(channels_last(pan), channels_last(lms))
        hr_spa = self.spatial_encoder(channels_last(detail))
        guide_half = F.max_pool2d(hr_spa, 2)
        lr_spe = self.spectral_encoder(channels_last(ms))
        sr_half = coordinate_query(lr_spe, guide_half, self.imnet_64, **self.query_options)
        return coordinate_query(sr_half, hr_spa, self.imnet_128, **self.query_options)

    def forward(self, batch: Batch) -> FusionOutput:
        return FusionOutput(fused=self.fuse(batch.pan, batch.lms, batch.ms))

    def fuse(self, pan: Tensor, lms: Tensor, ms: Tensor) -> Tensor:
        """The authors' call ``net(pan, lms, ms)``: ``lms`` + residual, contiguous B × C × H × W."""
        for name, t, bands in (("pan", pan, self.guide_bands), ("lms", lms, self.spectral_bands), ("ms", ms, self.spectral_bands)):
            if t.ndim != 4 or t.shape[1] != bands:
                raise ValueError(f"RAMSF: {name} must be B×{bands}×H×W for this model, found shape {tuple(t.shape)}")
        if lms.shape[-2:] != pan.shape[-2:]:
            raise ValueError(f"RAMSF: lms {tuple(lms.shape)} must be on the guide grid {tuple(pan.shape[-2:])}")
        return (lms + self.residual(pan, lms, ms)).contiguous()
