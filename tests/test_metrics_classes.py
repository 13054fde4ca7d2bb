"""The registered torchmetrics classes follow the core's metric contract."""

from __future__ import annotations

import pytest
import torch
from torchmetrics import Metric

from rsmif_core import available, create_metric
from rsmif_core.metrics import functional as fn
from rsmif_core.metrics.checks import MetricInputError
from rsmif_core.metrics.classes import FULL_RESOLUTION, REDUCED_RESOLUTION, mean_std, toolbox_clip_bound
from rsmif_core.ops.interp import interp23tap
from rsmif_core.types import Batch, BatchMeta

RR = ("sam", "ergas", "q_index", "q2n", "scc", "psnr", "ssim", "rmse", "cc", "rase")
FR = ("d_lambda", "d_s", "qnr", "d_lambda_k", "hqnr")
LOWER_IS_BETTER = {"sam", "ergas", "rmse", "rase", "d_lambda", "d_s", "d_lambda_k"}


def _batch(seed: int, batch_size: int = 2, size: int = 32, bands: int = 4, gt: bool = True) -> Batch:
    """A smooth 11-bit-like scene in [0, 1] (max_value 2047) with a noisy fused estimate kept apart."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.avg_pool2d(torch.rand(batch_size, bands, size + 6, size + 6, generator=g), 7, stride=1)
    hr = (0.2 + 0.6 * base).double()
    ms = torch.nn.functional.avg_pool2d(hr, 4)
    lms = interp23tap(ms, 4)
    pan = hr.mean(1, keepdim=True) + 0.01 * torch.rand(batch_size, 1, size, size, generator=g, dtype=torch.float64)
    meta = BatchMeta(task="pansharpening", sensor="qb", ratio=4, max_value=2047.0, ids=[str(i) for i in range(batch_size)])
    return Batch(pan=pan.float(), ms=ms.float(), lms=lms.float(), gt=hr.float() if gt else None, meta=meta)


def _fused(batch: Batch, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (batch.lms + 0.02 * torch.randn(batch.lms.shape, generator=g)).float()


def test_every_index_is_registered_with_its_flags() -> None:
    assert set(RR + FR) <= set(available("metrics"))
    assert set(REDUCED_RESOLUTION) == set(RR) and set(FULL_RESOLUTION) == set(FR)
    for name in RR + FR:
        metric = create_metric(name, sensor=None, border=0, clip=False, block_size=32, protocol="toolbox")
        assert isinstance(metric, Metric)
        assert type(metric).needs_reference is (name in RR)
        assert type(metric).higher_is_better is (name not in LOWER_IS_BETTER)


@pytest.mark.parametrize("name", RR)
def test_reduced_resolution_metric_accumulates_per_image_values(name: str) -> None:
    metric = create_metric(name)
    batches = [_batch(0), _batch(1, batch_size=3)]
    for i, b in enumerate(batches):
        metric.update(_fused(b, 10 + i), b)
    values = metric.compute()
    assert values.shape == (5,) and values.dtype == torch.float64
    assert torch.isfinite(values).all()
    # per image, the functional index on the DN scale ([0,1] scale for rmse/psnr/ssim)
    b = batches[1]
    f = _fused(b, 11).double()
    gt = b.gt.double()  # type: ignore[union-attr]
    expected = {
        "sam": lambda: fn.sam(f * 2047, gt * 2047), "ergas": lambda: fn.ergas(f * 2047, gt * 2047, 4),
        "q_index": lambda: fn.q_index(f * 2047, gt * 2047), "q2n": lambda: fn.q2n(f * 2047, gt * 2047),
        "scc": lambda: fn.scc(f * 2047, gt * 2047), "cc": lambda: fn.cc(f, gt), "rase": lambda: fn.rase(f, gt),
        "psnr": lambda: fn.psnr(f, gt, 1.0), "ssim": lambda: fn.ssim(f, gt, 1.0), "rmse": lambda: fn.rmse(f, gt),
    }[name]()
    torch.testing.assert_close(values[2:], expected, rtol=1e-9, atol=1e-9)
    mean, std = mean_std(values)
    assert mean == pytest.approx(float(values.mean())) and std >= 0
    metric.reset()
    assert metric.values == []


@pytest.mark.parametrize("name", FR)
def test_full_resolution_metric_on_a_batch_without_reference(name: str) -> None:
    metric = create_metric(name, block_size=16)
    b = _batch(2, gt=False)
    metric.update(_fused(b, 3), b)
    values = metric.compute()
    assert values.shape == (2,) and torch.isfinite(values).all()
    assert ((values >= -1e-12) & (values <= 1 + 1e-12)).all()


def test_sensor_option_overrides_the_batch_and_unknown_sensor_lists_known_ones() -> None:
    b = _batch(4, gt=False)
    f = _fused(b, 5)
    qb = create_metric("d_lambda_k", block_size=16)
    wv4 = create_metric("d_lambda_k", block_size=16, sensor="wv4")
    qb.update(f, b)
    wv4.update(f, b)
    assert not torch.allclose(qb.compute(), wv4.compute())
    with pytest.raises(ValueError, match="known sensors: WV3"):
        create_metric("hqnr", sensor="sentinel-2")
    create_metric("sam", sensor="sentinel-2")  # indices without MTF filters ignore the sensor


def test_reference_metric_on_full_resolution_batch_says_what_to_use() -> None:
    b = _batch(5, gt=False)
    with pytest.raises(MetricInputError, match="no-reference metrics"):
        create_metric("sam").update(_fused(b, 6), b)


def test_clip_true_is_the_toolbox_two_to_the_l() -> None:
    assert toolbox_clip_bound(2047) == 2048 and toolbox_clip_bound(1023) == 1024 and toolbox_clip_bound(1000) == 1000
    b = _batch(6)
    f = _fused(b, 7)
    f[..., :8, :] = -0.1  # below 0
    f[..., 8:16, :] = 1.2  # above 2048/2047
    clipped = create_metric("sam", clip=True)
    plain = create_metric("sam")
    clipped.update(f, b)
    plain.update(f, b)
    expected = fn.sam(f.double() * 2047, b.gt.double() * 2047, clip=2048)  # type: ignore[union-attr]
    torch.testing.assert_close(clipped.compute(), expected)
    assert not torch.allclose(clipped.compute(), plain.compute())


def test_authors_protocol_option_reaches_the_index() -> None:
    b = _batch(7)
    f = _fused(b, 8)
    toolbox, authors = create_metric("rmse"), create_metric("rmse", protocol="authors")
    toolbox.update(f, b)
    authors.update(f, b)
    torch.testing.assert_close(authors.compute(), toolbox.compute() * 2)  # sqrt(4 bands)
    with pytest.raises(ValueError, match="protocol"):
        create_metric("sam", protocol="matlab")


def test_q2n_without_a_dn_scale_warns_and_skips_quantisation() -> None:
    b = _batch(8)
    b.meta.max_value = 1.0
    metric = create_metric("q2n")
    with pytest.warns(UserWarning, match="quantisation"):
        metric.update(_fused(b, 9), b)
    assert torch.isfinite(metric.compute()).all()
