"""A direct, slow formulation of RAMSF's coordinate query, for cross-checking the fast one.

It follows the description in ``shared/reference/models/authors-code.md`` literally: cell-centre
coordinates, four ``(±1/h, ±1/w)`` offsets, nearest ``grid_sample`` with zero padding on both the
features and a coordinate map, relative coordinates scaled by ``(h, w)``, the MLP on the concatenated
inputs of each neighbour and a softmax over the four last-channel logits. Autograd does the backward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from rsmif_ramsf.blocks import MLP
from torch import Tensor


def centres(n: int, dtype: torch.dtype) -> Tensor:
    return (2 * torch.arange(n, dtype=torch.float64) + 1).div(n).sub(1).to(dtype)


def plain_query(feat: Tensor, guide: Tensor, mlp: MLP, tie_nudge: float = 1e-6) -> Tensor:
    """``tie_nudge`` (in cells) moves every shifted lookup slightly up so exact half-cell ties round up,
    the rule the fast query documents; 0 leaves ties to ``grid_sample``'s round-half-to-even."""
    b, _, h, w = feat.shape
    _, _, ho, wo = guide.shape
    dtype = feat.dtype
    rows, cols = torch.meshgrid(centres(ho, dtype), centres(wo, dtype), indexing="ij")
    coord = torch.stack([rows, cols], dim=-1).reshape(1, -1, 2).expand(b, -1, 2)  # B × N × 2 (row, col)
    feat_rows, feat_cols = torch.meshgrid(centres(h, dtype), centres(w, dtype), indexing="ij")
    feat_coord = torch.stack([feat_rows, feat_cols], dim=0).unsqueeze(0).expand(b, 2, h, w)

    def sample(x: Tensor, at: Tensor) -> Tensor:  # B × N × C
        return F.grid_sample(x, at.flip(-1).unsqueeze(1), mode="nearest", align_corners=False)[:, :, 0].permute(0, 2, 1)

    q_guide = sample(guide, coord)
    preds = []
    for dr in (-1, 1):
        for dc in (-1, 1):
            shifted = coord + torch.tensor([(dr + 2 * tie_nudge) / h, (dc + 2 * tie_nudge) / w], dtype=dtype)
            q_feat = sample(feat, shifted)
            q_coord = sample(feat_coord, shifted)
            rel = (coord - q_coord) * torch.tensor([h, w], dtype=dtype)
            preds.append(mlp(torch.cat([q_feat, q_guide, rel], dim=-1)))
    stacked = torch.stack(preds, dim=-1)  # B × N × (C+1) × 4
    weights = stacked[:, :, -1].softmax(dim=-1)
    out = (stacked[:, :, :-1] * weights.unsqueeze(-2)).sum(-1)
    return out.permute(0, 2, 1).reshape(b, -1, ho, wo)
