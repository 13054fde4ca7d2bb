"""Images for tensorboard: band choice per sensor, stretched composites, error maps and feature grids."""

from __future__ import annotations

import torch

from rsmif_core.ops.visuals import composite, error_map, feature_grid, rgb_bands, stretch_limits


def test_band_choice_per_sensor_and_fallbacks() -> None:
    assert rgb_bands("wv3", 8) == (4, 2, 1)
    assert rgb_bands("QB", 4) == (2, 1, 0)
    assert rgb_bands("sentinel2", 13) == (3, 2, 1)
    assert rgb_bands("wv2", 4) == (2, 1, 0)  # a 4-band WV2 product cannot use the 8-band indices
    assert rgb_bands("none", 3) == (0, 1, 2)
    assert rgb_bands("none", 1) == (0, 0, 0)
    r, g, b = rgb_bands("none", 102)  # hyperspectral, ordered by wavelength: red after green after blue
    assert 101 >= r > g > b >= 0


def test_composite_shares_one_stretch_and_error_map_is_bounded() -> None:
    torch.manual_seed(0)
    gt = torch.rand(8, 16, 16)
    fused = gt + 0.05
    bands = rgb_bands("wv3", 8)
    limits = stretch_limits(gt[list(bands)])
    a, b = composite(gt, bands, limits), composite(fused, bands, limits)
    assert a.shape == (3, 16, 16) and 0 <= float(a.min()) and float(a.max()) <= 1
    assert float(b.mean()) > float(a.mean())  # the same stretch shows the brighter image brighter
    err = error_map(fused, gt)
    assert err.shape == (1, 16, 16) and float(err.max()) <= 1 and float(err.min()) >= 0


def test_feature_grid_tiles_channels() -> None:
    grid = feature_grid(torch.randn(5, 8, 8), max_channels=4)
    assert grid.shape == (1, 2 * 8 + 2, 2 * 8 + 2)
    assert float(grid.min()) >= 0 and float(grid.max()) <= 1
