"""CSFPA's coordinate query: features of a coarse grid read at the cell centres of a finer guide grid.

What the authors compute (``query_64`` / ``query_128`` in ``models/MSIP/RAMSF.py``), for every query
point ``x`` of the guide grid (cell-centre coordinates in (-1, 1), (row, col) order) and each of the
four offsets ``(±1/h, ±1/w)``:

* ``q_feat``: the feature cell that nearest-neighbour ``grid_sample`` (zero padding) hits at ``x + offset``;
* ``q_guide``: the guide feature at ``x`` (the guide grid *is* the query grid, so this is the guide itself);
* ``rel = (x − centre(q_cell)) · (h, w)``, where an out-of-range cell has centre ``(0, 0)`` (zero padding
  of their coordinate map) and zero features;
* ``pred = MLP([q_feat, q_guide, rel])``; the last output channel is a logit, the softmax over the four
  neighbours weighs the other channels.

The same numbers, computed with fewer operations:

1. The first Linear layer is split by input block. ``W_feat·q_feat − W_rel·centre·(h, w)`` depends only
   on the feature cell, so it is evaluated once per coarse cell (not four times per query point) and
   gathered; out-of-range cells are a zero row, which reproduces the authors' zero padding of both the
   features and the centre coordinates exactly. ``W_guide·q_guide + W_rel·x·(h, w) + bias`` depends only
   on the query point and is evaluated once per point (not four times).
2. The neighbour cells along each axis are integer arithmetic: the two cells whose centres bracket the
   query point, ``floor(u)`` and ``floor(u) + 1`` with ``u`` the point's position in cell units. Where
   the authors' ``±half-cell`` nearest lookups do not hit a rounding tie (every 2× step of the
   published configuration: quarter-cell fractions) this is the cell they read. Where they do tie (a
   query point on a cell centre: ratio 2's first stage) their choice depends on float round-off; we
   take the bracketing pair, which is translation-consistent.
3. The lookups are two separable ``index_select`` calls (rows, then columns) instead of 2-D
   ``grid_sample`` on features and coordinates, so the backward pass is two short ``index_add``
   loops rather than a scatter per sample.
4. Because the softmax weights sum to one, ``Σ_k w_k (W·h_k + b) = W·(Σ_k w_k h_k) + b``: the last
   Linear layer runs once per query point on the weighted hidden vector; only its logit row runs per
   neighbour. (For 102 hyperspectral bands this removes most of the last layer's cost.)
5. Without autograd (inference) the query points are processed in blocks of rows, so the per-neighbour
   hidden activations never exist for the whole image at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from rsmif_ramsf.blocks import MLP

NEIGHBOURS_PER_AXIS = 2
# Inference block: about this many (query point × neighbour) rows of hidden activations at a time.
INFERENCE_ROWS_PER_BLOCK = 16384


def cell_centres(n: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Centres of ``n`` equal cells covering (-1, 1): ``-1 + (2i + 1) / n`` (the authors' ``make_coord``)."""
    return ((2 * torch.arange(n, dtype=torch.float64) + 1) / n - 1).to(device=device, dtype=dtype)


@dataclass(frozen=True)
class AxisNeighbours:
    """For one axis: which two coarse cells each fine query position reads.

    ``padded_index`` (n_query × 2, long) indexes the coarse axis padded by one zero cell at each end
    (so -1 → 0 and n_cells → n_cells + 1); ``n_cells`` and ``n_query`` are the two grid sizes.
    """

    padded_index: Tensor
    n_cells: int
    n_query: int


def axis_neighbours(n_cells: int, n_query: int, device: torch.device | None = None) -> AxisNeighbours:
    """The bracketing cells ``floor(u), floor(u) + 1`` with ``u = (2i + 1)·n_cells / (2·n_query) − 1/2``, exactly."""
    i = torch.arange(n_query, dtype=torch.int64)
    lower = torch.div((2 * i + 1) * n_cells - n_query, 2 * n_query, rounding_mode="floor")
    both = torch.stack([lower, lower + 1], dim=1) + 1  # shift into the zero-padded axis
    return AxisNeighbours(both.to(device), n_cells, n_query)


def _split_first_layer(mlp: MLP, feat_dim: int, guide_dim: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    first = mlp.linears[0]
    expected = feat_dim + guide_dim + 2
    if first.in_features != expected:
        raise ValueError(
            f"coordinate query: the MLP takes {first.in_features} inputs but features ({feat_dim}) + guide ({guide_dim}) "
            f"+ 2 relative coordinates make {expected}"
        )
    w = first.weight
    return w[:, :feat_dim], w[:, feat_dim : feat_dim + guide_dim], w[:, feat_dim + guide_dim :], first.bias


def _rows(
    cells: Tensor,
    point: Tensor,
    rows: Tensor,
    cols: Tensor,
    mlp: MLP,
) -> Tensor:
    """MLP + neighbour ensemble for a block of query rows.

    ``cells`` B×(h+2)×(w+2)×D (padded per-cell part of the first layer), ``point`` B×r×Wo×D (per-point
    part), ``rows`` r×2 and ``cols`` Wo×2 padded neighbour indices. Returns B×r×Wo×out.
    """
    b, r, wo, d = point.shape
    gathered = cells.index_select(1, rows.reshape(-1)).index_select(2, cols.reshape(-1))  # B×2r×2Wo×D
    hidden = gathered.view(b, r, NEIGHBOURS_PER_AXIS, wo, NEIGHBOURS_PER_AXIS, d)
    hidden = hidden.add_(point[:, :, None, :, None, :]).relu_()
    linears = mlp.linears
    for layer in linears[1:-1]:
        hidden = F.linear(hidden, layer.weight, layer.bias).relu_()
    last = linears[-1]
    logits = F.linear(hidden, last.weight[-1:], last.bias[-1:]).squeeze(-1)  # B×r×2×Wo×2
    weights = logits.permute(0, 1, 3, 2, 4).reshape(b, r, wo, -1).softmax(dim=-1)
    weights = weights.view(b, r, wo, NEIGHBOURS_PER_AXIS, NEIGHBOURS_PER_AXIS).permute(0, 1, 3, 2, 4)
    mixed = (hidden * weights.unsqueeze(-1)).sum(dim=(2, 4))  # B×r×Wo×hidden
    return F.linear(mixed, last.weight[:-1], last.bias[:-1])


def coordinate_query(feat: Tensor, guide: Tensor, mlp: MLP) -> Tensor:
    """Read ``feat`` (B×c×h×w) at every cell of ``guide``'s grid (B×g×Ho×Wo) through ``mlp``.

    Returns B×Ho×Wo×(out − 1) (channels last; ``.permute(0, 3, 1, 2)`` gives the usual layout).
    Any sizes work: ``h, w`` come from ``feat`` itself, ``Ho, Wo`` from ``guide``.
    """
    b, c, h, w = feat.shape
    _, g, ho, wo = guide.shape
    w_feat, w_guide, w_rel, bias = _split_first_layer(mlp, c, g)
    dtype, device = feat.dtype, feat.device
    # Per coarse cell: W_feat·feat − W_rel·centre·(h, w); zero cells around it stand for out-of-range reads.
    cell_row = torch.outer(cell_centres(h, device, dtype) * h, w_rel[:, 0])  # h×D
    cell_col = torch.outer(cell_centres(w, device, dtype) * w, w_rel[:, 1])  # w×D
    cells = F.linear(feat.permute(0, 2, 3, 1), w_feat) - cell_row[:, None, :] - cell_col[None, :, :]
    cells = F.pad(cells, (0, 0, 1, 1, 1, 1))
    # Per query point: W_guide·guide + W_rel·x·(h, w) + bias.
    point_row = torch.outer(cell_centres(ho, device, dtype) * h, w_rel[:, 0])  # Ho×D
    point_col = torch.outer(cell_centres(wo, device, dtype) * w, w_rel[:, 1])  # Wo×D
    point = F.linear(guide.permute(0, 2, 3, 1), w_guide, bias) + point_row[:, None, :] + point_col[None, :, :]
    rows = axis_neighbours(h, ho, device).padded_index
    cols = axis_neighbours(w, wo, device).padded_index
    if torch.is_grad_enabled() and (feat.requires_grad or guide.requires_grad or w_feat.requires_grad):
        return _rows(cells, point, rows, cols, mlp)
    block = max(1, INFERENCE_ROWS_PER_BLOCK // (b * wo * NEIGHBOURS_PER_AXIS**2))
    if block >= ho:
        return _rows(cells, point, rows, cols, mlp)
    return torch.cat([_rows(cells, point[:, i : i + block], rows[i : i + block], cols, mlp) for i in range(0, ho, block)], dim=1)
