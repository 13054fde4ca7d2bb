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
   cell, so it is evaluated once per coarse cell (not four times per query point), in one product with
   the centre coordinates as two extra input columns; a ring of zero cells around the grid reproduces
   the authors' zero padding of both the features and the centre coordinates exactly.
   ``W_guide·q_guide + W_rel·x·(h, w) + bias`` depends only on the query point: one product per block
   with inputs ``[guide, x·(h, w), 1]`` (built once per call), never materialised for the whole grid.
2. **Neighbours by integer arithmetic.** Along each axis a query position reads the two cells whose
   centres bracket it, ``floor(u)`` and ``floor(u) + 1`` with ``u = (2i + 1)·n_cells / (2·n_query) − ½``.
   Where the authors' ``±half-cell`` nearest lookups do not hit a rounding tie (every 2× step of the
   published configuration: quarter-cell fractions) this is the cell they read. Where they do tie (a
   query point on a cell centre: ratio 2's first stage) their choice depends on float round-off; we
   take the bracketing pair, which is translation-consistent.
3. **Strided views instead of gathers.** ``i = P·q + p`` (``P = n_query / gcd``) gives
   ``floor(u) = s·q + floor(u_p)``: for each phase ``p`` and neighbour the cells read form a strided
   slice of the padded grid (for one or two phases per axis, all reads of a block are one overlapping
   strided view). The first layer of a block is then one fused add + ReLU (``_add_relu``) of that view
   and the per-point part, written into a contiguous buffer; no ``grid_sample`` or gather runs. The
   cells' gradient is one ``index_add_`` per block (:meth:`QueryPlan.read_index`).
4. **Last layer.** Narrow outputs (the 8/4-band stages, the 33-wide first stage) run per neighbour as the
   authors compute it, so one product gives the outputs and the logit. Wide ones (102 hyperspectral
   bands) run once after the softmax ensemble: the weights sum to one, so
   ``Σ_k w_k (W·h_k + b) = W·(Σ_k w_k h_k) + b`` and only the logit row runs per neighbour
   (``last_layer`` chooses).
5. **Blocks in cache, partly recomputed in backward.** :class:`_NeighbourMLP` runs the MLP on blocks of
   about ``block_rows`` (query point × neighbour) rows and writes the gradients by hand. Each
   block's temporaries reuse the same buffers (:class:`_Scratch`), which stay in cache.
   ``recompute`` chooses what backward rebuilds: ``"first"`` (default) keeps each block's later
   hidden activations (128 wide) and rebuilds only the first layer's (256 wide: one small product, one
   fused add + ReLU), so the expensive 256 → 128 product runs once; ``"all"`` keeps nothing and reruns the
   whole block; ``"none"`` keeps everything. Each kept block is freed as soon as its gradients are
   written; inference keeps nothing. Measured speed and memory: ``bench/RESULTS.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from rsmif_ramsf.blocks import MLP

NEIGHBOURS = 4  # 2 per axis
Recompute = Literal["first", "all", "none"]
LastLayer = Literal["auto", "per_neighbour", "after_ensemble"]
RECOMPUTE_CHOICES: tuple[str, ...] = get_args(Recompute)
LAST_LAYER_CHOICES: tuple[str, ...] = get_args(LastLayer)


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

    @property
    def phase_stride(self) -> int | None:
        """``d`` when ``starts[p] = starts[0] + d·p`` (always for one or two phases), else None."""
        d = self.starts[1] - self.starts[0] if self.period > 1 else 0
        return d if all(s == self.starts[0] + d * p for p, s in enumerate(self.starts)) else None


def axis_plan(n_cells: int, n_query: int) -> AxisPlan:
    if n_cells < 1 or n_query < 1:
        raise ValueError(f"coordinate query: grid sizes must be positive, found {n_cells} cells and {n_query} query positions")
    g = math.gcd(n_cells, n_query)
    period = n_query // g
    starts = tuple(lower_neighbour(p, n_cells, n_query) + 1 for p in range(period))  # +1: the zero ring
    return AxisPlan(n_cells, n_query, period, n_cells // g, g, starts)


@dataclass(frozen=True)
class QueryPlan:
    """Both axes' plans, the batch size and how the MLP is evaluated (see :func:`coordinate_query`'s
    ``block_rows``, ``recompute`` and ``last_layer``); work blocks are ranges of ``q`` along the row axis."""

    rows: AxisPlan
    cols: AxisPlan
    batch: int
    block_rows: int = 8192
    recompute: Recompute = "first"
    last_layer: LastLayer = "auto"

    @property
    def points_per_q(self) -> int:
        """Query points (× batch) in one step of ``q``: ``period`` whole query rows."""
        return self.rows.period * self.cols.n_query * self.batch

    def blocks(self) -> Iterator[tuple[int, int]]:
        """(q0, q1) row ranges of about :attr:`block_rows` MLP rows, covering every query point once."""
        step = max(1, self.block_rows // (self.points_per_q * NEIGHBOURS))
        for q0 in range(0, self.rows.count, step):
            yield q0, min(q0 + step, self.rows.count)

    def read_index(self, device: torch.device | None = None) -> Tensor:
        """For every (query point × neighbour) row, in block order, the flat index (row, col, batch) of the
        padded cell it reads: the scatter map of the cells' gradient."""
        cells = torch.arange((self.rows.n_cells + 2) * (self.cols.n_cells + 2) * self.batch, device=device)
        cells = cells.view(self.rows.n_cells + 2, self.cols.n_cells + 2, self.batch)
        index = cells.new_empty(self.rows.count, self.rows.period, self.cols.count, self.cols.period, self.batch, NEIGHBOURS)
        for pr, pc, k, where in self.neighbours(0, self.rows.count):
            index[:, pr, :, pc, :, k] = cells[where]
        return index.view(-1)

    def phase_view(self, t: Tensor) -> Tensor:
        """Ho×Wo×B×D as q_r×P_r×q_c×P_c×B×D (query position ``i = P·q + p`` on both axes), a view."""
        return t.view(self.rows.count, self.rows.period, self.cols.count, self.cols.period, *t.shape[2:])

    def neighbour_view(self, cells: Tensor, q0: int, q1: int) -> Tensor | None:
        """All neighbour reads of rows q0..q1 as one overlapping strided view q×P_r×q_c×P_c×B×2×2×D, if affine."""
        dr, dc = self.rows.phase_stride, self.cols.phase_stride
        if dr is None or dc is None:
            return None
        s_r, s_c, s_b, s_d = cells.stride()
        size = (q1 - q0, self.rows.period, self.cols.count, self.cols.period, cells.shape[2], 2, 2, cells.shape[3])
        stride = (self.rows.step * s_r, dr * s_r, self.cols.step * s_c, dc * s_c, s_b, s_r, s_c, s_d)
        offset = (self.rows.starts[0] + self.rows.step * q0) * s_r + self.cols.starts[0] * s_c
        return cells.as_strided(size, stride, cells.storage_offset() + offset)

    def neighbours(self, q0: int, q1: int) -> Iterator[tuple[int, int, int, tuple[slice, slice]]]:
        """For every row phase, col phase and neighbour k: the (row, col) slices of the padded cells read."""
        for pr in range(self.rows.period):
            for pc in range(self.cols.period):
                for kr in (0, 1):
                    for kc in (0, 1):
                        cells = (self.rows.cell_slice(pr, kr, q0, q1), self.cols.cell_slice(pc, kc, 0, self.cols.count))
                        yield pr, pc, 2 * kr + kc, cells


_EMPTY = torch.empty(0)  # marks a first-layer activation dropped after the forward pass


@dataclass(frozen=True)
class _Query:
    """Everything a block needs: the padded per-cell part and the per-point inputs of the first layer."""

    plan: QueryPlan
    cells: Tensor  # (h+2)×(w+2)×B×D: W_feat·feat − W_rel·centre·(h, w), zero ring around it
    inputs: Tensor  # (Ho·Wo·B)×(g+3): [guide, x_row·h, x_col·w, 1] of every query point, (row, col, batch) order
    w_point: Tensor  # D×(g+3): [W_guide, W_rel, bias] of the first Linear layer

    def point_inputs(self, q0: int, q1: int) -> Tensor:
        """The block's rows of :attr:`inputs` (a block holds whole query rows, so (row, col, batch) order is the
        phase order q×P_r×q_c×P_c×B)."""
        per_q = self.plan.points_per_q
        return self.inputs[per_q * q0 : per_q * q1]


def _make_query(plan: QueryPlan, cells: Tensor, guide: Tensor, w_point: Tensor) -> _Query:
    ho, wo, b, g = guide.shape
    inputs = guide.new_empty(ho, wo, b, g + 3)
    inputs[..., :g] = guide
    inputs[..., g] = (cell_centres(ho, guide.device, guide.dtype) * plan.rows.n_cells)[:, None, None]
    inputs[..., g + 1] = (cell_centres(wo, guide.device, guide.dtype) * plan.cols.n_cells)[None, :, None]
    inputs[..., g + 2] = 1
    return _Query(plan, cells, inputs.view(-1, g + 3), w_point)


class _Scratch:
    """Buffers reused by every block of one forward or backward pass.

    A block's temporaries (8 MiB for 8192 rows of the 256-wide layer) are written into the same memory
    each time, which stays in cache; a fresh allocation is cold, and writing it first reads it from
    memory (the first layer and the 256 → 128 product ran 10–20 % faster with reuse). Tensors that a
    block keeps for the backward pass are never taken from here.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def take(self, key: str, shape: Sequence[int], like: Tensor) -> Tensor:
        """A tensor of ``shape`` (contents undefined) that stays valid until ``key`` is taken again."""
        numel = math.prod(shape)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.numel() < numel:
            buffer = like.new_empty(numel)
            self._buffers[key] = buffer
        return buffer[:numel].view(*shape)


def _new(scratch: _Scratch | None, key: str, shape: Sequence[int], like: Tensor) -> Tensor:
    """From ``scratch`` when given (a temporary), else a fresh tensor (kept beyond the block)."""
    return scratch.take(key, shape, like) if scratch is not None else like.new_empty(shape)


@dataclass
class _Block:
    activations: list[Tensor]  # post-ReLU activations of every hidden layer, points × 4 × width
    weights: Tensor  # softmax ensemble weights, points × 4
    last: Tensor  # per neighbour: the last layer's outputs, points × 4 × out; else Σ_k weights_k · h_k, points × width


def _first_layer(query: _Query, q0: int, q1: int, scratch: _Scratch, keep: bool) -> Tensor:
    """Post-ReLU first hidden layer of rows q0..q1: points × 4 × width (from ``scratch`` unless ``keep``).

    The per-point part is one small product per block (never materialised for the whole grid); the
    neighbours' per-cell parts are strided reads of ``cells``, added with the ReLU fused in.
    """
    plan = query.plan
    inputs = query.point_inputs(q0, q1)
    width = query.w_point.shape[0]
    point = torch.mm(inputs, query.w_point.T, out=scratch.take("point", (inputs.shape[0], width), inputs))
    pt = point.view(q1 - q0, plan.rows.period, plan.cols.count, plan.cols.period, plan.batch, -1)  # q×P_r×q_c×P_c×B×D
    shape = (*pt.shape[:-1], NEIGHBOURS, width)
    pre = _new(None if keep else scratch, "first", shape, point)
    reads = plan.neighbour_view(query.cells, q0, q1)
    if reads is not None:  # one strided add + ReLU reads every neighbour
        # Into a contiguous ``out``: otherwise the result takes the overlapping view's odd layout (then
        # ``reshape`` copies it) and the add itself ran ~10× slower.
        torch.ops.aten._add_relu.out(reads, pt[..., None, None, :], out=pre.view(reads.shape))
        return pre.view(-1, NEIGHBOURS, width)
    for pr, pc, k, where in plan.neighbours(q0, q1):
        torch.add(query.cells[where], pt[:, pr, :, pc], out=pre[:, pr, :, pc, :, k])
    return pre.view(-1, NEIGHBOURS, width).relu_()


def _per_neighbour(weight: Tensor, last_layer: LastLayer) -> bool:
    """Whether the last Linear layer runs per neighbour (as the authors compute it) or once after the softmax
    ensemble (Σ_k w_k (W·h_k + b) = W·(Σ_k w_k h_k) + b because the weights sum to one). "auto": per
    neighbour when its output is at most half its input width (the 8/4-band and 33-wide stages); wider
    outputs (e.g. 103 hyperspectral bands) save most of that layer after the ensemble."""
    if last_layer == "auto":
        return 2 * weight.shape[0] <= weight.shape[1]
    return last_layer == "per_neighbour"


def _forward_block(
    query: _Query, q0: int, q1: int, layers: Sequence[tuple[Tensor, Tensor]], out: Tensor, scratch: _Scratch, keep: str
) -> _Block:
    """Runs rows q0..q1 and writes their result into ``out`` (points × (out − 1)).

    ``keep``: which hidden activations must outlive the block ("none", "later" or "all" layers).
    """
    hidden = _first_layer(query, q0, q1, scratch, keep == "all")
    activations = [hidden]
    for index, (weight, bias) in enumerate(layers[:-1]):
        rows = hidden.view(-1, hidden.shape[-1])
        result = _new(None if keep != "none" else scratch, f"hidden{index}", (rows.shape[0], weight.shape[0]), rows)
        torch.mm(rows, weight.T, out=result)
        hidden = torch.ops.aten._add_relu.out(result, bias, out=result).view(-1, NEIGHBOURS, weight.shape[0])
        activations.append(hidden)
    weight, bias = layers[-1]
    if _per_neighbour(weight, query.plan.last_layer):
        outputs = F.linear(hidden, weight, bias)  # points × 4 × out, logit last
        weights = outputs[..., -1].softmax(dim=-1)
        torch.sum(outputs[..., :-1] * weights.unsqueeze(-1), dim=1, out=out)
        return _Block(activations, weights, outputs)
    weights = F.linear(hidden, weight[-1:], bias[-1:]).squeeze(-1).softmax(dim=-1)
    mixed = torch.matmul(weights.unsqueeze(-2), hidden).squeeze(-2)
    torch.addmm(bias[:-1], mixed, weight[:-1].T, out=out)
    return _Block(activations, weights, mixed)


def _last_layer_backward(
    block: _Block, g_y: Tensor, weight: Tensor, g_weight: Tensor, g_bias: Tensor, scratch: _Scratch, per_neighbour: bool
) -> Tensor:
    """Gradients of the last layer and the ensemble for one block; returns d/d(last hidden), points × 4 × width
    (in ``scratch``)."""
    last = block.activations[-1]
    w = block.weights
    if per_neighbour:
        outputs = block.last
        g_outputs = torch.empty_like(outputs)
        torch.mul(w.unsqueeze(-1), g_y.unsqueeze(-2), out=g_outputs[..., :-1])
        g_w = (outputs[..., :-1] * g_y.unsqueeze(-2)).sum(dim=-1)  # points × 4
        g_outputs[..., -1] = w * (g_w - (w * g_w).sum(dim=-1, keepdim=True))
        g_rows = g_outputs.view(-1, outputs.shape[-1])
        g_weight.addmm_(g_rows.T, last.view(-1, last.shape[-1]))
        g_bias += g_rows.sum(dim=0)
        g_hidden = scratch.take("g_last", (g_rows.shape[0], weight.shape[1]), g_rows)
        return torch.mm(g_rows, weight, out=g_hidden).view(*last.shape)
    w_out, w_logit = weight[:-1], weight[-1]
    g_weight[:-1].addmm_(g_y.T, block.last)
    g_bias[:-1] += g_y.sum(dim=0)
    g_mixed = g_y @ w_out  # points × width
    g_w = torch.matmul(last, g_mixed.unsqueeze(-1)).squeeze(-1)  # points × 4
    g_logits = w * (g_w - (w * g_w).sum(dim=-1, keepdim=True))
    g_weight[-1:].addmm_(g_logits.view(1, -1), last.view(-1, last.shape[-1]))
    g_bias[-1:] += g_logits.sum()
    return torch.addcmul(w.unsqueeze(-1) * g_mixed.unsqueeze(-2), g_logits.unsqueeze(-1), w_logit)


class _NeighbourMLP(torch.autograd.Function):
    """The whole query after the per-cell part: per-point first layer, MLP over the four neighbours of
    every query point and the softmax ensemble, in blocks, with a hand-written backward.

    Inputs: ``cells`` (h+2)×(w+2)×B×D (per-cell part of the first layer, zero ring included), ``guide``
    Ho×Wo×B×g, ``w_point`` D×(g+3) (the first layer's guide and coordinate columns and its bias), the
    plan, whether grad mode is on, then (weight, bias) of every later Linear layer.
    Output: Ho×Wo×B×(out − 1).
    """

    @staticmethod
    def forward(ctx: Any, cells: Tensor, guide: Tensor, w_point: Tensor, plan: QueryPlan, training: bool, *params: Tensor) -> Tensor:
        query = _make_query(plan, cells, guide, w_point)
        layers = list(zip(params[0::2], params[1::2]))
        ho, wo, b, _ = guide.shape
        out = guide.new_empty(ho, wo, b, layers[-1][0].shape[0] - 1)
        out_points = out.view(-1, out.shape[-1])
        # ``training``: grad mode was on outside (inside forward it is always off, and needs_input_grad
        # stays true under no_grad because the parameters require grad), so inference keeps nothing.
        keep = plan.recompute != "all" and training and any(ctx.needs_input_grad)
        kept: list[_Block] = []
        per_q = plan.points_per_q
        scratch = _Scratch()
        hidden_kept = "none" if not keep else ("later" if plan.recompute == "first" else "all")
        for q0, q1 in plan.blocks():
            result = _forward_block(query, q0, q1, layers, out_points[per_q * q0 : per_q * q1], scratch, hidden_kept)
            if keep:
                if plan.recompute == "first":  # the widest activation is the cheapest to rebuild (no large matmul)
                    result.activations[0] = _EMPTY
                kept.append(result)
        ctx.plan = plan
        ctx.kept = kept
        ctx.inputs = query.inputs if training else None
        ctx.save_for_backward(cells, guide, w_point, *params)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        cells, guide, w_point, *params = ctx.saved_tensors
        plan: QueryPlan = ctx.plan
        query = _Query(plan, cells, ctx.inputs, w_point) if ctx.inputs is not None else _make_query(plan, cells, guide, w_point)
        ctx.inputs = None
        layers = list(zip(params[0::2], params[1::2]))
        g = guide.shape[-1]
        width = cells.shape[-1]
        read_index = plan.read_index(cells.device)
        grad_cells = torch.zeros_like(cells)
        grad_cells_rows = grad_cells.view(-1, width)
        grad_guide = torch.empty_like(guide)  # same memory layout as the guide (channels-last upstream)
        grad_w_point = torch.zeros_like(w_point)
        grad_params = [torch.zeros_like(p) for p in params]
        grad_points = grad_out.contiguous().view(-1, grad_out.shape[-1])
        kept: list[_Block] = ctx.kept
        ctx.kept = []
        have_kept = bool(kept)
        kept.reverse()  # popped in block order: each block is released as soon as its gradients are written
        per_q = plan.points_per_q
        scratch = _Scratch()
        for q0, q1 in plan.blocks():
            g_y = grad_points[per_q * q0 : per_q * q1]  # points × C
            if have_kept:
                result = kept.pop()
            else:  # nothing kept: rerun the block (its outputs go to a scratch buffer; its hidden layers too)
                unused_out = scratch.take("out", g_y.shape, g_y)
                result = _forward_block(query, q0, q1, layers, unused_out, scratch, "none")
            if result.activations[0] is _EMPTY:
                result.activations[0] = _first_layer(query, q0, q1, scratch, keep=False)
            g_hidden = _last_layer_backward(
                result, g_y, layers[-1][0], grad_params[-2], grad_params[-1], scratch, _per_neighbour(layers[-1][0], plan.last_layer)
            )
            for index in range(len(layers) - 2, -1, -1):
                act_in = result.activations[index]
                g_z = torch.ops.aten.threshold_backward.grad_input(g_hidden, result.activations[index + 1], 0, grad_input=g_hidden)
                g_z2 = g_z.view(-1, g_z.shape[-1])
                grad_params[2 * index].addmm_(g_z2.T, act_in.view(-1, act_in.shape[-1]))
                grad_params[2 * index + 1] += g_z2.sum(dim=0)
                weight = layers[index][0]
                g_in = scratch.take(f"g_hidden{index}", (g_z2.shape[0], weight.shape[1]), g_z2)
                g_hidden = torch.mm(g_z2, weight, out=g_in).view(-1, NEIGHBOURS, weight.shape[1])
            g_pre = torch.ops.aten.threshold_backward.grad_input(g_hidden, result.activations[0], 0, grad_input=g_hidden)
            del result  # the block's activations are no longer needed
            g_point = torch.sum(g_pre, dim=1, out=scratch.take("g_point", (g_pre.shape[0], width), g_pre))  # points × D
            grad_w_point.addmm_(g_point.T, query.point_inputs(q0, q1))
            i0, i1 = plan.rows.period * q0, plan.rows.period * q1
            g_guide = torch.mm(g_point, w_point[:, :g], out=scratch.take("g_guide", (g_point.shape[0], g), g_point))
            grad_guide[i0:i1] = g_guide.view(i1 - i0, *guide.shape[1:])
            rows = slice(per_q * NEIGHBOURS * q0, per_q * NEIGHBOURS * q1)
            grad_cells_rows.index_add_(0, read_index[rows], g_pre.view(-1, width))
            del g_pre, g_hidden, g_point  # free this block before the next one is built
        return (grad_cells, grad_guide, grad_w_point, None, None, *grad_params)


@torch.compiler.disable  # torch.compile runs the blocked query as one opaque call (its Python loops do not trace)
def _neighbour_mlp(cells: Tensor, guide: Tensor, w_point: Tensor, plan: QueryPlan, training: bool, *params: Tensor) -> Tensor:
    out: Tensor = _NeighbourMLP.apply(cells, guide, w_point, plan, training, *params)
    return out


def check_query_options(block_rows: int, recompute: str, last_layer: str) -> None:
    """Raise a ValueError naming the option when one of :func:`coordinate_query`'s evaluation options is invalid."""
    if isinstance(block_rows, bool) or not isinstance(block_rows, int) or block_rows < 1:
        raise ValueError(f"coordinate query: block_rows must be a positive integer, found {block_rows!r}")
    if recompute not in RECOMPUTE_CHOICES:
        raise ValueError(f"coordinate query: recompute must be one of {', '.join(RECOMPUTE_CHOICES)}, found {recompute!r}")
    if last_layer not in LAST_LAYER_CHOICES:
        raise ValueError(f"coordinate query: last_layer must be one of {', '.join(LAST_LAYER_CHOICES)}, found {last_layer!r}")


def coordinate_query(
    feat: Tensor,
    guide: Tensor,
    mlp: MLP,
    *,
    block_rows: int = 8192,
    recompute: Recompute = "first",
    last_layer: LastLayer = "auto",
) -> Tensor:
    """Read ``feat`` (B×c×h×w) at every cell of ``guide``'s grid (B×g×Ho×Wo) through ``mlp``.

    Returns a B×(out − 1)×Ho×Wo view of an Ho×Wo×B×C tensor (the layout the next query reads without
    a copy). Any sizes work: ``h, w`` come from ``feat`` itself, ``Ho, Wo`` from ``guide``.

    How the MLP is evaluated (the same numbers up to float summation order; only speed and memory change):

    * ``block_rows``: the MLP runs on blocks of about this many (query point × neighbour) rows, small enough
      that a block's temporaries stay in cache (8 MiB of the 256-wide layer at the default), large enough
      for efficient matrix products and few operations;
    * ``recompute``: what backward rebuilds per block: "first" (keep the later hidden layers, rebuild only
      the first layer's activations: one small product and a fused add + ReLU), "all" (keep nothing, rerun
      the whole block: least memory) or "none" (keep everything: most memory);
    * ``last_layer``: "per_neighbour" (the authors' order), "after_ensemble" (the last layer once on the
      softmax-weighted hidden activations) or "auto" (per neighbour when the output is at most half the last
      hidden width).
    """
    check_query_options(block_rows, recompute, last_layer)
    b, c, h, w = feat.shape
    _, g, ho, wo = guide.shape
    linears = mlp.linears
    first = linears[0]
    if first.in_features != c + g + 2:
        raise ValueError(
            f"coordinate query: the MLP takes {first.in_features} inputs but features ({c}) + guide ({g}) "
            f"+ 2 relative coordinates make {c + g + 2}"
        )
    dtype, device = feat.dtype, feat.device
    # Per coarse cell: [W_feat, W_rel]·[feat, −centre·(h, w)] in one product, rows × cols × B × D, zero ring around it.
    centres = torch.empty(h, w, b, 2, dtype=dtype, device=device)
    centres[..., 0] = -cell_centres(h, device, dtype)[:, None, None] * h
    centres[..., 1] = -cell_centres(w, device, dtype)[None, :, None] * w
    w_cells = torch.cat([first.weight[:, :c], first.weight[:, c + g :]], dim=1)
    cells = F.linear(torch.cat([feat.permute(2, 3, 0, 1), centres], dim=-1), w_cells)
    cells = F.pad(cells, (0, 0, 0, 0, 1, 1, 1, 1))
    # Per query point: [W_guide, W_rel, bias], applied block by block inside the Function.
    w_point = torch.cat([first.weight[:, c:], first.bias[:, None]], dim=1)
    plan = QueryPlan(axis_plan(h, ho), axis_plan(w, wo), b, block_rows, recompute, last_layer)
    params = [t for layer in linears[1:] for t in (layer.weight, layer.bias)]
    out = _neighbour_mlp(cells, guide.permute(2, 3, 0, 1), w_point, plan, torch.is_grad_enabled(), *params)
    return out.permute(2, 3, 0, 1)
