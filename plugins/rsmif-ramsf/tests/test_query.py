"""The fast coordinate query equals the direct formulation (values and gradients, float64)."""

from __future__ import annotations

import pytest
import torch
from plain_query import plain_query
from rsmif_ramsf.blocks import MLP
from rsmif_ramsf.query import axis_plan, coordinate_query

GEOMETRIES = [
    (4, 4, 8, 8),  # the published 2× steps (two phases, strided single read)
    (8, 8, 4, 4),  # features denser than the query grid (ratio 1, first stage)
    (6, 6, 6, 6),  # same grid: every lookup is a half-cell tie (ratio 2, first stage)
    (4, 5, 12, 10),  # 3× rows (three non-affine phases: per-phase reads), 2× columns
    (3, 7, 5, 4),  # coprime sizes
]


@pytest.mark.parametrize("last_layer", ["per_neighbour", "after_ensemble"])
@pytest.mark.parametrize("block_rows,recompute", [(16, "none"), (16, "all"), (16, "first"), (1 << 20, "none"), (1 << 20, "first")])
@pytest.mark.parametrize("h,w,ho,wo", GEOMETRIES)
def test_fast_query_matches_direct_formulation(h, w, ho, wo, block_rows, recompute, last_layer):
    torch.manual_seed(0)
    b, c, g, out = 2, 5, 3, 4
    mlp = MLP(c + g + 2, out, (7, 6)).double()
    feat = torch.randn(b, c, h, w, dtype=torch.float64, requires_grad=True)
    guide = torch.randn(b, g, ho, wo, dtype=torch.float64, requires_grad=True)
    fast = coordinate_query(feat, guide, mlp, block_rows=block_rows, recompute=recompute, last_layer=last_layer)
    ref = plain_query(feat, guide, mlp)
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(ref)
    inputs = [feat, guide, *mlp.parameters()]
    for got, want in zip(torch.autograd.grad(fast, inputs, grad), torch.autograd.grad(ref, inputs, grad)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("last_layer", ["per_neighbour", "after_ensemble"])
def test_gradcheck_tiny(last_layer):
    torch.manual_seed(1)
    mlp = MLP(3 + 2 + 2, 3, (4,)).double()
    feat = torch.randn(1, 3, 2, 3, dtype=torch.float64, requires_grad=True)
    guide = torch.randn(1, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, g: coordinate_query(f, g, mlp, last_layer=last_layer), (feat, guide))


@pytest.mark.parametrize(
    ("options", "message"),
    [({"block_rows": 0}, "block_rows"), ({"recompute": "first-layer"}, "recompute"), ({"last_layer": "first"}, "last_layer")],
)
def test_bad_options_are_clear_errors(options, message):
    mlp = MLP(3 + 2 + 2, 3, (4,))
    with pytest.raises(ValueError, match=message):
        coordinate_query(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 4, 4), mlp, **options)


def test_neighbours_bracket_the_query_point():
    """Published 2× step: query i reads cells floor((2i+1)/4 − 1/2) and the next (quarter-cell fractions)."""
    plan = axis_plan(4, 8)
    reads = []
    for i in range(8):
        p, q = i % plan.period, i // plan.period
        start = plan.starts[p] + plan.step * q - 1  # back to unpadded cells
        reads.append((start, start + 1))
    assert reads == [(-1, 0), (0, 1), (0, 1), (1, 2), (1, 2), (2, 3), (2, 3), (3, 4)]
