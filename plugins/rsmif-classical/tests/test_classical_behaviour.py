"""Batching, the DN scale, clipping, other ratios, clear errors, and the method-specific pieces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from rsmif_classical import BDSD, CBDSD, FEHPM, GS, MODELS, MTFGLP
from rsmif_classical.bdsd import _nnls
from rsmif_classical.common import prctile
from rsmif_classical.fe import edgetaper
from rsmif_classical.segmentation import kmeans
from rsmif_classical.wavelet import atrous_matrix
from scipy.optimize import nnls

import rsmif_core

Loader = Callable[[str], Any]


def _fuse(method: str, batch: rsmif_core.Batch, **hyper: Any) -> torch.Tensor:
    model = MODELS[method](batch.spectral_bands, 1, batch.meta.ratio, **hyper)
    with torch.no_grad():
        return model(batch).fused


@pytest.mark.parametrize("method", list(MODELS))
def test_a_batch_is_fused_image_by_image(method: str, toolbox_scene: Loader) -> None:
    one = toolbox_scene("wv2_4band").batch
    other = toolbox_scene("geoeye1").batch
    two = rsmif_core.Batch(
        pan=torch.cat([one.pan, other.pan]), ms=torch.cat([one.ms, other.ms]), lms=torch.cat([one.lms, other.lms]),
        meta=one.meta,
    )
    other_alone = replace(other, meta=one.meta)
    together = _fuse(method, two)
    torch.testing.assert_close(together[:1], _fuse(method, one), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(together[1:], _fuse(method, other_alone), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", list(MODELS))
def test_the_method_runs_on_the_dn_scale(method: str, toolbox_scene: Loader) -> None:
    batch = toolbox_scene("ikonos").batch
    scale = batch.meta.max_value
    rescaled = rsmif_core.Batch(
        pan=batch.pan * scale / 4095, ms=batch.ms * scale / 4095, lms=batch.lms * scale / 4095,
        meta=replace(batch.meta, max_value=4095.0),
    )
    torch.testing.assert_close(_fuse(method, rescaled) * 4095, _fuse(method, batch) * scale, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", list(MODELS))
def test_clip_clamps_to_the_data_range(method: str, toolbox_scene: Loader) -> None:
    batch = toolbox_scene("geoeye1").batch
    raw = _fuse(method, batch)
    clipped = _fuse(method, batch, clip=True)
    torch.testing.assert_close(clipped, raw.clamp(0, 1), rtol=0, atol=0)


@pytest.mark.parametrize("method", list(MODELS))
def test_a_ratio_that_is_not_a_power_of_two(method: str, toolbox_scene: Loader) -> None:
    """Ratio 3 (interp23tapGeneral where the toolbox upsamples): a Wald-protocol scene made with the core's operators."""
    scene = toolbox_scene("wv2_4band")
    gt = scene.gt[..., :84, :84] / scene.max_value
    pan = scene.batch.pan[..., :84, :84]
    ms = rsmif_core.mtf_degrade(gt, "IKONOS", 3)
    meta = rsmif_core.BatchMeta(sensor="IKONOS", ratio=3, max_value=scene.max_value)
    batch = rsmif_core.Batch(pan=pan, ms=ms, lms=rsmif_core.interp23tap_general(ms, 3), gt=gt, meta=meta)
    fused = _fuse(method, batch)
    assert fused.shape == gt.shape and torch.isfinite(fused).all()
    # better than the upsampled MS alone for the methods that inject details at all scales
    error = (fused - gt).abs().mean()
    assert error < 2 * (batch.lms - gt).abs().mean()


def test_clear_errors(toolbox_scene: Loader) -> None:
    with pytest.raises(ValueError, match="single-band PAN"):
        GS(4, 2, 4)
    with pytest.raises(ValueError, match="ratio of at least 2"):
        MTFGLP(4, 1, 1)
    with pytest.raises(ValueError, match="block_size must be even"):
        BDSD(4, 1, 4, block_size=6)
    with pytest.raises(ValueError, match="unknown derivative"):
        FEHPM(4, 1, 4, derivative="Roberts")
    with pytest.raises(ValueError, match="at least 2"):
        CBDSD(4, 1, 4, clusters=1)
    batch = toolbox_scene("wv2_4band").batch
    with pytest.raises(ValueError, match="built for 8 bands"):
        GS(8, 1, 4)(batch)
    with pytest.raises(ValueError, match="built for ratio 2"):
        GS(4, 1, 2)(batch)
    with pytest.raises(ValueError, match="divide the image size"):
        BDSD(4, 1, 4, block_size=16)(batch)
    with pytest.raises(rsmif_core.UnknownSensorError, match="known sensors"):
        MTFGLP(4, 1, 4)(replace(batch, meta=replace(batch.meta, sensor="landsat9")))
    # WV2 has 8 gains; a 4-band product without recorded gains takes those of blue, green, red and NIR1
    recorded = MTFGLP(4, 1, 4)(batch).fused
    from_sensor = MTFGLP(4, 1, 4)(replace(batch, meta=replace(batch.meta, mtf_gains=None))).fused
    torch.testing.assert_close(from_sensor, recorded, rtol=0, atol=0)  # the fixture's gains are those four
    with pytest.raises(ValueError, match="8 bands"):
        MTFGLP(5, 1, 4)(replace(batch, ms=batch.ms[:, :1].repeat(1, 5, 1, 1), lms=batch.lms[:, :1].repeat(1, 5, 1, 1),
                                gt=None, meta=replace(batch.meta, mtf_gains=None)))
    flat = replace(batch, meta=replace(batch.meta, max_value=1.0))
    with pytest.raises(ValueError, match="DN scale"):
        FEHPM(4, 1, 4)(rsmif_core.Batch(pan=flat.pan, ms=flat.ms, lms=flat.lms, meta=flat.meta))


def test_bdsd_block_of_the_image_height_is_the_default(toolbox_scene: Loader) -> None:
    batch = toolbox_scene("landsat7").batch  # 128×128, ratio 2
    torch.testing.assert_close(_fuse("bdsd", batch, block_size=128), _fuse("bdsd", batch), rtol=0, atol=0)
    assert not torch.allclose(_fuse("bdsd", batch, block_size=64), _fuse("bdsd", batch))


def test_kmeans_is_deterministic_and_max_iter_one_keeps_the_nearest_start() -> None:
    g = torch.Generator().manual_seed(0)
    points = torch.cat([torch.randn(1, 50, 2, generator=g, dtype=torch.float64) + 5,
                        torch.randn(1, 50, 2, generator=g, dtype=torch.float64) - 5], dim=1)
    labels, centres = kmeans(points, 2)
    again, _ = kmeans(points, 2)
    assert torch.equal(labels, again)
    assert set(labels[0, :50].tolist()) != set(labels[0, 50:].tolist())  # the two blobs are separated
    start = torch.tensor([[[0.0, 0.0], [100.0, 100.0]]], dtype=torch.float64)
    nearest, _ = kmeans(points, 2, start=start, max_iter=1)
    assert (nearest == 0).all()  # MATLAB returns the labels of the given start when MaxIter is 1


def test_nnls_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 40, 6))
    y = rng.normal(size=(30, 40))
    gram = torch.from_numpy(np.einsum("nki,nkj->nij", a, a))
    rhs = torch.from_numpy(np.einsum("nki,nk->ni", a, y))
    ours = _nnls(gram, rhs).numpy()
    for i in range(30):
        np.testing.assert_allclose(ours[i], nnls(a[i], y[i])[0], rtol=1e-9, atol=1e-10)


def test_atrous_lowpass_keeps_constants_and_needs_five_pixels() -> None:
    for levels in (1, 2, 3):
        mat = atrous_matrix(17, levels)
        torch.testing.assert_close(mat.sum(dim=1), torch.ones(17, dtype=torch.float64), rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="at least 5"):
        atrous_matrix(4, 2)


def test_prctile_is_matlabs() -> None:
    x = torch.rand(2, 3, 17, 19, dtype=torch.float64)
    for p in (0.1, 1.0, 37.5, 99.9):
        expected = np.percentile(x.flatten(-2).numpy(), p, axis=-1, method="hazen")
        np.testing.assert_allclose(prctile(x, p)[..., 0, 0].numpy(), expected, rtol=1e-12)


def test_edgetaper_blurs_only_near_the_border() -> None:
    x = torch.rand(1, 1, 64, 64, dtype=torch.float64)
    tapered = edgetaper(x, 6)
    torch.testing.assert_close(tapered[..., 12:-12, 12:-12], x[..., 12:-12, 12:-12], rtol=0, atol=1e-12)
    assert tapered.min() >= x.min() and tapered.max() <= x.max()
    assert not torch.allclose(tapered[..., 0, :], x[..., 0, :])


def test_bdsd_on_a_non_square_image_estimates_one_global_injection(toolbox_scene: Loader) -> None:
    """The benchmark's one block of the image height fails on non-square images; the default estimates the
    injection over the whole image, which is the least-squares fit of the reduced-resolution detail."""
    from rsmif_classical.bdsd import _reduced

    square = toolbox_scene("landsat7").batch  # 128×128, ratio 2
    batch = rsmif_core.Batch(pan=square.pan[..., :, :96], ms=square.ms[..., :, :48], lms=square.lms[..., :, :96],
                             meta=square.meta)
    model = BDSD(batch.spectral_bands, 1, 2)
    fused = _fuse("bdsd", batch)
    pan_lp, ms_orig, ms_lp = _reduced(model.scene(batch))
    design = torch.cat([ms_lp, pan_lp], dim=1).flatten(2).transpose(1, 2)[0]
    gamma = torch.linalg.lstsq(design, (ms_orig - ms_lp).flatten(2).transpose(1, 2)[0]).solution
    scene = model.scene(batch)
    expected = scene.lms + (torch.cat([scene.lms, scene.pan], dim=1).flatten(2).transpose(1, 2)[0] @ gamma).T.reshape(
        scene.lms.shape)
    torch.testing.assert_close(fused * batch.meta.max_value, expected, rtol=1e-9, atol=1e-6)
