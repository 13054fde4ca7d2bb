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

The same numbers, computed with far less work and memory:

1. **Factorised first layer.** ``W_feat·q_feat − W_rel·centre·(h, w)`` depends only on the feature
   cell, so it is evaluated once per coarse cell (not four times per query point); a ring of zero cells
   around the grid reproduces the authors' zero padding of both the features and the centre
   coordinates exactly. ``W_guide·q_guide + W_rel·x·(h, w) + bias`` depends only on the query point and
   is evaluated once per point (not four times).
2. **Neighbours by integer arithmetic.** Along each axis a query position reads the two cells whose
   centres bracket it, ``floor(u)`` and ``floor(u) + 1`` with ``u = (2i + 1)·n_cells / (2·n_query) − ½``.
   Where the authors' ``±half-cell`` nearest lookups do not hit a rounding tie (every 2× step of the
   published configuration: quarter-cell fractions) this is the cell they read. Where they do tie (a
   query point on a cell centre: ratio 2's first stage) their choice depends on float round-off; we
   take the bracketing pair, which is translation-consistent.
3. **Strided views instead of gathers.** ``i = P·q + p`` (``P = n_query / gcd``) gives
   ``floor(u) = s·q + floor(u_p)``: for each phase ``p`` and neighbour the cells read form a strided
   slice of the padded grid. The neighbour features are therefore views, their gradients are slice
   additions, and no ``grid_sample``, index or scatter kernel runs.
4. **Last layer after the ensemble.** The softmax weights sum to one, so
   ``Σ_k w_k (W·h_k + b) = W·(Σ_k w_k h_k) + b``: only the logit row of the last Linear layer runs per
   neighbour (for 102 hyperspectral bands this removes most of the last layer's cost).
5. **Blocks with recomputation.** :class:`_NeighbourMLP` runs the MLP on blocks of about
   :data:`ROWS_PER_BLOCK` (query point × neighbour) rows and keeps none of the per-neighbour
   activations for the backward pass; it recomputes each block there and writes the gradients by hand.
   Peak memory is a few blocks instead of the authors' ~10 full-size copies, and the buffers stay
   small enough for the allocator to reuse (fresh multi-megabyte buffers page-fault on every step).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from rsmif_ramsf.blocks import MLP

NEIGHBOURS = 4  # 2 per axis
# Work block: about this many (query point × neighbour) rows of hidden activations at a time.
ROWS_PER_BLOCK = 4096


def cell_centres(n: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Centres of ``n`` equal cells covering (-1, 1): ``-1 + (2i + 1) / n`` (the authors' ``make_coord``)."""
    return ((2 * torch.arange(n, dtype=torch.float64) + 1) / n - 1).to(device=device, dtype=dtype)


def lower_neighbour(i: int, n_cells: int, n_query: int) -> int:
    """The lower of the two cells (0-based, may be -1) read by query position ``i`` along one axis."""
    return ((2 * i + 1) * n_cells - n_query) // (2 * n_query)


@dataclass(frozen=True)
class AxisPlan:
    """How one axis of the query grid reads the (zero-padded) cell axis.

    Query positions ``i = period·q + p`` (``q < count``) read padded cells
    ``starts[p] + k + step·q`` for ``k = 0, 1``.
    """

    n_cells: int
    n_query: int
    period: int
    step: int
    count: int
    starts: tuple[int, ...]

    def query_slice(self, p: int, q0: int, q1: int) -> slice:
        return slice(p + self.period * q0, p + self.period * (q1 - 1) + 1, self.period)

    def cell_slice(self, p: int, k: int, q0: int, q1: int) -> slice:
        start = self.starts[p] + k + self.step * q0
        return slice(start, start + self.step * (q1 - q0 - 1) + 1, self.step)


def axis_plan(n_cells: int, n_query: int) -> AxisPlan:
    if n_cells < 1 or n_query < 1:
        raise ValueError(f"coordinate query: grid sizes must be positive, found {n_cells} cells and {n_query} query positions")
    g = math.gcd(n_cells, n_query)
    period = n_query // g
    starts = tuple(lower_neighbour(p, n_cells, n_query) + 1 for p in range(period))  # +1: the zero ring
    return AxisPlan(n_cells, n_query, period, n_cells // g, g, starts)


@dataclass(frozen=True)
class QueryPlan:
    rows: AxisPlan
    cols: AxisPlan
    batch: int
    width: int  # first hidden layer width (per-row floats of the largest activation)

    def blocks(self) -> Iterator[tuple[int, int, int, int]]:
        """(row phase, col phase, q0, q1): work blocks covering every query point once."""
        per_q = NEIGHBOURS * self.cols.count * self.batch
        step = max(1, ROWS_PER_BLOCK // per_q)
        for pr in range(self.rows.period):
            for pc in range(self.cols.period):
                for q0 in range(0, self.rows.count, step):
                    yield pr, pc, q0, min(q0 + step, self.rows.count)


@dataclass
class _Block:
    activations: list[Tensor]  # post-ReLU activations of every hidden layer, 4 × rows × cols × B × width
    weights: Tensor  # softmax ensemble weights, 4 × rows × cols × B
    mixed: Tensor  # Σ_k weights_k · last hidden activation, rows × cols × B × width


def _cell_views(cells: Tensor, plan: QueryPlan, pr: int, pc: int, q0: int, q1: int) -> list[Tensor]:
    return [
        cells[plan.rows.cell_slice(pr, kr, q0, q1), plan.cols.cell_slice(pc, kc, 0, plan.cols.count)]
        for kr in (0, 1)
        for kc in (0, 1)
    ]


def _point_slices(plan: QueryPlan, pr: int, pc: int, q0: int, q1: int) -> tuple[slice, slice]:
    return plan.rows.query_slice(pr, q0, q1), plan.cols.query_slice(pc, 0, plan.cols.count)


def _forward_block(
    cells: Tensor, point: Tensor, plan: QueryPlan, block: tuple[int, int, int, int], layers: Sequence[tuple[Tensor, Tensor]]
) -> _Block:
    pr, pc, q0, q1 = block
    rs, cs = _point_slices(plan, pr, pc, q0, q1)
    pt = point[rs, cs]
    pre = torch.empty((NEIGHBOURS, *pt.shape), dtype=pt.dtype, device=pt.device)
    for k, view in enumerate(_cell_views(cells, plan, pr, pc, q0, q1)):
        torch.add(view, pt, out=pre[k])
    hidden = pre.relu_()
    activations = [hidden]
    for weight, bias in layers[:-1]:
        hidden = F.linear(hidden, weight, bias).relu_()
        activations.append(hidden)
    weight, bias = layers[-1]
    logits = F.linear(hidden, weight[-1:], bias[-1:]).squeeze(-1)
    weights = logits.softmax(dim=0)
    mixed = torch.einsum("k...d,k...->...d", hidden, weights)
    return _Block(activations, weights, mixed)


class _NeighbourMLP(torch.autograd.Function):
    """MLP over the four neighbours of every query point + softmax ensemble, in blocks, recomputed in backward.

    Inputs: ``cells`` (h+2)×(w+2)×B×D (per-cell part of the first layer, zero ring included),
    ``point`` Ho×Wo×B×D (per-point part, bias included), then (weight, bias) of every later Linear.
    Output: Ho×Wo×B×(out − 1).
    """

    @staticmethod
    def forward(ctx: Any, cells: Tensor, point: Tensor, plan: QueryPlan, *params: Tensor) -> Tensor:
        layers = list(zip(params[0::2], params[1::2]))
        weight, bias = layers[-1]
        ho, wo, b, _ = point.shape
        out = point.new_empty(ho, wo, b, weight.shape[0] - 1)
        for block in plan.blocks():
            result = _forward_block(cells, point, plan, block, layers)
            rs, cs = _point_slices(plan, *block)
            out[rs, cs] = F.linear(result.mixed, weight[:-1], bias[:-1])
        ctx.plan = plan
        ctx.save_for_backward(cells, point, *params)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        cells, point, *params = ctx.saved_tensors
        plan: QueryPlan = ctx.plan
        layers = list(zip(params[0::2], params[1::2]))
        grad_cells = torch.zeros_like(cells)
        grad_point = torch.empty_like(point)
        grad_params = [torch.zeros_like(p) for p in params]
        weight, _ = layers[-1]
        w_out, w_logit = weight[:-1], weight[-1:]
        g_w_last, g_b_last = grad_params[-2], grad_params[-1]
        for block in plan.blocks():
            result = _forward_block(cells, point, plan, block, layers)
            rs, cs = _point_slices(plan, *block)
            g_y = grad_out[rs, cs]
            width = result.mixed.shape[-1]
            g_w_last[:-1].addmm_(g_y.reshape(-1, g_y.shape[-1]).T, result.mixed.reshape(-1, width))
            g_b_last[:-1] += g_y.sum(dim=(0, 1, 2))
            g_mixed = torch.matmul(g_y, w_out)  # rows × cols × B × width
            last = result.activations[-1]
            g_weights = torch.einsum("k...d,...d->k...", last, g_mixed)
            g_logits = result.weights * (g_weights - (result.weights * g_weights).sum(dim=0, keepdim=True))
            g_w_last[-1:].addmm_(g_logits.reshape(1, -1), last.reshape(-1, width))
            g_b_last[-1:] += g_logits.sum()
            g_hidden = result.weights.unsqueeze(-1) * g_mixed + g_logits.unsqueeze(-1) * w_logit[0]
            for index in range(len(layers) - 2, -1, -1):
                act_out, act_in = result.activations[index + 1], result.activations[index]
                g_z = g_hidden.masked_fill_(act_out <= 0, 0)
                w_l, _ = layers[index]
                grad_params[2 * index].addmm_(g_z.reshape(-1, g_z.shape[-1]).T, act_in.reshape(-1, act_in.shape[-1]))
                grad_params[2 * index + 1] += g_z.reshape(-1, g_z.shape[-1]).sum(dim=0)
                g_hidden = torch.matmul(g_z, w_l)
            g_pre = g_hidden.masked_fill_(result.activations[0] <= 0, 0)
            grad_point[rs, cs] = g_pre.sum(dim=0)
            for k, view in enumerate(_cell_views(grad_cells, plan, *block)):
                view += g_pre[k]
        return (grad_cells, grad_point, None, *grad_params)


def coordinate_query(feat: Tensor, guide: Tensor, mlp: MLP) -> Tensor:
    """Read ``feat`` (B×c×h×w) at every cell of ``guide``'s grid (B×g×Ho×Wo) through ``mlp``.

    Returns a B×(out − 1)×Ho×Wo view of an Ho×Wo×B×C tensor (the layout the next query reads without
    a copy). Any sizes work: ``h, w`` come from ``feat`` itself, ``Ho, Wo`` from ``guide``.
    """
    b, c, h, w = feat.shape
    _, g, ho, wo = guide.shape
    linears = mlp.linears
    first = linears[0]
    if first.in_features != c + g + 2:
        raise ValueError(
            f"coordinate query: the MLP takes {first.in_features} inputs but features ({c}) + guide ({g}) "
            f"+ 2 relative coordinates make {c + g + 2}"
        )
    w_feat, w_guide, w_rel = first.weight[:, :c], first.weight[:, c : c + g], first.weight[:, c + g :]
    dtype, device = feat.dtype, feat.device
    # Per coarse cell: W_feat·feat − W_rel·centre·(h, w), laid out rows × cols × B × D, zero ring around it.
    cell_row = torch.outer(cell_centres(h, device, dtype) * h, w_rel[:, 0])
    cell_col = torch.outer(cell_centres(w, device, dtype) * w, w_rel[:, 1])
    cells = F.linear(feat.permute(2, 3, 0, 1), w_feat) - cell_row[:, None, None, :] - cell_col[None, :, None, :]
    cells = F.pad(cells, (0, 0, 0, 0, 1, 1, 1, 1))
    # Per query point: W_guide·guide + W_rel·x·(h, w) + bias.
    point_row = torch.outer(cell_centres(ho, device, dtype) * h, w_rel[:, 0])
    point_col = torch.outer(cell_centres(wo, device, dtype) * w, w_rel[:, 1])
    point = F.linear(guide.permute(2, 3, 0, 1), w_guide, first.bias) + point_row[:, None, None, :] + point_col[None, :, None, :]
    plan = QueryPlan(axis_plan(h, ho), axis_plan(w, wo), b, first.out_features)
    params = [t for layer in linears[1:] for t in (layer.weight, layer.bias)]
    out = _NeighbourMLP.apply(cells, point, plan, *params)
    return out.permute(2, 3, 0, 1)
