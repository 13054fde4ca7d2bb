"""``rsmif predict``'s pieces: tile plans, per-tile upsampling, boundary indices, receptive fields, encoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rsmif_core.data.scene import boundary_index
from rsmif_core.evaluation.scene import (
    TileUpsampler,
    encode,
    interpolator,
    measure_receptive_field,
    plan_tiles,
    tiling_error,
)
from rsmif_core.evaluation.scene.writer import OutputSpec
from rsmif_core.plugins.factory import create_model
from rsmif_core.types import FusionModel


@pytest.mark.parametrize(("height", "width", "core", "margin", "alignment"),
                         [(96, 128, 32, 8, 4), (600, 600, 128, 20, 4), (40, 200, 64, 16, 8), (12, 12, 512, 8, 4),
                          (64, 64, 64, 0, 2)])
def test_tile_plan_covers_every_pixel_once_with_margins(height: int, width: int, core: int, margin: int,
                                                        alignment: int) -> None:
    plan = plan_tiles(height, width, core, margin, alignment)
    written = np.zeros((height, width), dtype=int)
    for tile in plan:
        rows, cols = tile.rows, tile.cols
        assert (rows.size, cols.size) == plan.window  # one window shape: tiles batch together
        for span, length in ((rows, height), (cols, width)):
            assert span.start % alignment == 0 and 0 <= span.start and span.start + span.size <= length
            # at least `margin` pixels of context on each side, or the scene's own edge
            assert span.core_start - span.start >= plan.margin or span.start == 0
            assert span.start + span.size - span.core_stop >= plan.margin or span.start + span.size == length
        written[rows.core_start : rows.core_stop, cols.core_start : cols.core_stop] += 1
    assert (written == 1).all()
    assert plan.computed_pixels >= height * width


def test_tile_plan_evens_out_cores_and_refuses_unaligned_regions() -> None:
    plan = plan_tiles(96, 96, 30, 9, 4)
    assert (plan.core_rows, plan.core_cols, plan.margin) == (32, 32, 12)
    plan = plan_tiles(600, 8192, 512, 8, 4)  # two 304-row cores, not 512 + a sliver whose window redoes most work
    assert (plan.core_rows, plan.core_cols, plan.shape) == (304, 512, (2, 16))
    assert plan.computed_pixels / (600 * 8192) < 1.15  # 512-row cores: 2 windows of 520 rows, 1.76
    with pytest.raises(ValueError, match="alignment"):
        plan_tiles(98, 96, 32, 8, 4)


def test_boundary_index_modes() -> None:
    assert boundary_index(-2, 3, 5, "circular").tolist() == [3, 4, 0, 1, 2]
    assert boundary_index(3, 8, 5, "circular").tolist() == [3, 4, 0, 1, 2]
    assert boundary_index(-2, 2, 5, "symmetric").tolist() == [1, 0, 0, 1]
    assert boundary_index(4, 7, 5, "symmetric").tolist() == [4, 4, 3]
    with pytest.raises(ValueError):
        boundary_index(-1, 2, 5, "clamp")


@pytest.mark.parametrize("ratio", [2, 3, 4, 8])
def test_tile_lms_equals_the_whole_image_lms_everywhere(ratio: int) -> None:
    """Windows widened by the margin (wrapped for 23-tap, mirrored for bicubic) give the whole image's lms, at the
    scene's borders too."""
    rng = np.random.default_rng(ratio)
    h, w = 40, 28
    ms = rng.random((3, h, w))
    up = TileUpsampler(ratio, h, w)
    assert up.kind == interpolator(ratio) == ("imresize" if ratio == 3 else "interp23tap")
    assert 0 < up.margin <= 12
    whole = up.whole(ms)
    for r0, r1, c0, c1 in ((0, 8, 0, 6), (8, 24, 6, 20), (32, 40, 22, 28), (0, 40, 0, 28), (5, 6, 27, 28)):
        rows = boundary_index(r0 - up.margin, r1 + up.margin, h, up.boundary)
        cols = boundary_index(c0 - up.margin, c1 + up.margin, w, up.boundary)
        tile = up.upsample(ms[:, rows[:, None], cols[None, :]])
        np.testing.assert_allclose(tile, whole[:, r0 * ratio : r1 * ratio, c0 * ratio : c1 * ratio], atol=1e-12)


def test_ratio_one_needs_no_upsampling() -> None:
    up = TileUpsampler(1, 10, 10)
    assert (up.kind, up.margin, up.boundary) == ("identity", 0, "clamp")


@pytest.mark.parametrize(("name", "declared"), [("exp", 0), ("pnn", 8)])
def test_declared_receptive_fields_are_the_measured_ones(name: str, declared: int) -> None:
    model = create_model(name, spectral_bands=4, guide_bands=1, ratio=4)
    assert model.receptive_field == declared
    assert measure_receptive_field(model) == declared
    assert tiling_error(model, size=96, core=32) < 1e-6


@pytest.mark.slow
def test_ramsf_receptive_field_and_tiles_away_from_the_image_border() -> None:
    pytest.importorskip("rsmif_ramsf")
    torch.manual_seed(0)
    model = create_model("ramsf", spectral_bands=4, guide_bands=1, ratio=4, feat_dim=16, guide_dim=16, mlp_dim=(32, 16))
    assert model.tile_alignment == 2
    measured = measure_receptive_field(model, seeds=(0,))
    assert measured is not None and measured <= model.receptive_field
    # tiled with its declared margin, RAMSF agrees with whole-image inference except in the image's outer 3 pixels,
    # which depend on the image's size (the zero-padded coordinate map of its queries) even when run whole
    assert tiling_error(model, size=96, core=32) > 1e-3
    assert _interior_tiling_error(model, ring=3) < 1e-5


def _interior_tiling_error(model: FusionModel, ring: int) -> float:
    from rsmif_core.types import Batch, BatchMeta

    g = torch.Generator().manual_seed(1)
    size, r = 96, 4
    pan, lms = torch.rand(1, 1, size, size, generator=g), torch.rand(1, 4, size, size, generator=g)
    ms = torch.rand(1, 4, size // r, size // r, generator=g)
    assert model.receptive_field is not None
    plan = plan_tiles(size, size, 32, model.receptive_field, 4)
    with torch.no_grad():
        whole = model.eval()(Batch(pan=pan, ms=ms, lms=lms, meta=BatchMeta(ratio=r))).fused
        mosaic = torch.empty_like(whole)
        for tile in plan:
            rs, cs = tile.rows, tile.cols
            g_rows, g_cols = slice(rs.start, rs.start + rs.size), slice(cs.start, cs.start + cs.size)
            m_rows, m_cols = slice(rs.start // r, (rs.start + rs.size) // r), slice(cs.start // r, (cs.start + cs.size) // r)
            out = model(Batch(pan=pan[..., g_rows, g_cols], ms=ms[..., m_rows, m_cols], lms=lms[..., g_rows, g_cols],
                              meta=BatchMeta(ratio=r))).fused
            mosaic[..., rs.core_start : rs.core_stop, cs.core_start : cs.core_stop] = out[..., rs.crop, cs.crop]
    inner = (..., slice(ring, size - ring), slice(ring, size - ring))
    return float((whole - mosaic)[inner].abs().max())


@pytest.mark.parametrize("name", ["cf2n", "mmapp", "rsanet"])
def test_models_with_global_operations_declare_no_receptive_field(name: str) -> None:
    from rsmif_core.plugins.manager import registry

    if registry().find("models", name) is None:
        pytest.skip(f"{name} is not installed")
    model_cls = registry().get("models", name).factory
    assert getattr(model_cls, "receptive_field", 0) is None  # global pooling, or a positional grid spanning the input


def test_encode_rounds_clips_and_keeps_nodata_apart() -> None:
    fused = np.array([[[0.0, 0.5, 1.2], [-0.1, 1e-4, 0.25]]], dtype=np.float32)  # 1×2×3
    valid = np.array([[True, True, True], [True, True, False]])
    spec = OutputSpec("uint16", 2047.0, 0.0)
    out = encode(fused, valid, spec)
    # 0 is nodata: valid pixels that round to it become 1; 1.2·2047 fits uint16; the invalid pixel is nodata
    assert out.dtype == np.uint16 and out.tolist() == [[[1, 1024, 2456], [1, 1, 0]]]
    floats = encode(fused, valid, OutputSpec("float32", 2047.0, float("nan")))
    assert floats.dtype == np.float32 and np.isnan(floats[0, 1, 2]) and floats[0, 0, 1] == pytest.approx(1023.5)
