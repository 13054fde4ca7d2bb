"""The full-resolution losses of Z-PNN, λ-PNN and HQNR against direct implementations of their formulas,
their gradients, and that a few steps on them lower them."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rsmif_core
from rsmif_core import Batch, BatchMeta, FusionOutput
from rsmif_core.losses.full_resolution import LAMBDA_PNN_WEIGHTS, ZPNN_BETA, degrade
from rsmif_core.ops.correlation import local_correlation
from rsmif_core.ops.mtf import mtf_kernels
from rsmif_core.testing import single_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_thread():
        yield


def scene(size: int = 32, bands: int = 4, seed: int = 0, sensor: str = "GeoEye1") -> Batch:
    """A smooth PAN/MS pair at full resolution (no reference), on the [0, 1] scale of 11-bit data."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, bands, size // 8, size // 8, generator=g, dtype=torch.float64)
    hr = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0.05, 1)
    pan = hr.mean(1, keepdim=True) + 0.01 * torch.rand(1, 1, size, size, generator=g, dtype=torch.float64)
    ms = F.avg_pool2d(hr, 4)
    lms = F.interpolate(ms, scale_factor=4, mode="bicubic", align_corners=False)
    return Batch(pan=pan, ms=ms, lms=lms, meta=BatchMeta(task="pansharpening", sensor=sensor, ratio=4, max_value=2047.0))


def direct_correlation(a: np.ndarray, b: np.ndarray, w: int) -> np.ndarray:
    """Ciotola et al.'s local correlation, pixel by pixel: 2w×2w windows (offsets −w+1 … w), zeros outside,
    means divided by the full window size."""
    h, wd = a.shape

    def window_sum(t: np.ndarray, i: int, j: int) -> float:
        return float(t[max(0, i - w + 1): i + w + 1, max(0, j - w + 1): j + w + 1].sum())

    mean_a = np.array([[window_sum(a, i, j) / (4 * w * w) for j in range(wd)] for i in range(h)])
    mean_b = np.array([[window_sum(b, i, j) / (4 * w * w) for j in range(wd)] for i in range(h)])
    ac, bc = a - mean_a, b - mean_b
    out = np.zeros_like(a)
    for i in range(h):
        for j in range(wd):
            sab, saa, sbb = window_sum(ac * bc, i, j), window_sum(ac * ac, i, j), window_sum(bc * bc, i, j)
            out[i, j] = sab / (math.sqrt(max(saa, 1e-20) * max(sbb, 1e-20)) + 1e-20)
    return out


def direct_degrade(fused: torch.Tensor, sensor: str, ratio: int) -> torch.Tensor:
    """imfilter(I, h, 'replicate') as a direct 41×41 correlation, then the toolbox's decimation (offset ratio/2)."""
    kernels = torch.from_numpy(mtf_kernels(sensor, ratio, fused.shape[1]))[:, None]
    padded = F.pad(fused, (20, 20, 20, 20), mode="replicate")
    low = F.conv2d(padded, kernels.to(fused.dtype), groups=fused.shape[1])
    return low[..., ratio // 2::ratio, ratio // 2::ratio]


def direct_structural(fused: np.ndarray, pan: np.ndarray, lms: np.ndarray, pan_low: np.ndarray, ratio: int) -> float:
    total, count = 0.0, 0
    for b in range(fused.shape[0]):
        gap = 1.0 - np.maximum(direct_correlation(fused[b], pan, math.ceil(ratio / 2)), -1.0)
        threshold = 1.0 - direct_correlation(lms[b], pan_low, 8)
        total += float((gap * (gap > threshold)).sum())
        count += gap.size
    return total / count


def test_local_correlation_is_the_papers_definition() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 2, 12, 13, generator=g, dtype=torch.float64)
    y = torch.rand(1, 1, 12, 13, generator=g, dtype=torch.float64)
    got = local_correlation(x, y, 2)
    for band in range(2):
        np.testing.assert_allclose(got[0, band].numpy(), direct_correlation(x[0, band].numpy(), y[0, 0].numpy(), 2),
                                   rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="half_width"):
        local_correlation(x, y, 0)


def test_degradation_is_the_mtf_filter_and_the_toolbox_decimation() -> None:
    batch = scene()
    fused = batch.lms + 0.01
    torch.testing.assert_close(degrade(fused, batch), direct_degrade(fused, "GeoEye1", 4), rtol=0, atol=1e-12)


def _fused(batch: Batch) -> torch.Tensor:
    g = torch.Generator().manual_seed(9)
    return (batch.lms + 0.3 * (batch.pan - batch.pan.mean()) + 0.01 * torch.rand(batch.lms.shape, generator=g,
                                                                                  dtype=torch.float64))


def _pan_low(batch: Batch) -> np.ndarray:
    kernel = torch.from_numpy(mtf_kernels("GeoEye1", 4, 4))[:1, None]
    padded = F.pad(batch.pan, (20, 20, 20, 20), mode="replicate")
    return F.conv2d(padded, kernel).numpy()[0, 0]


def test_zpnn_loss_equals_its_formula() -> None:
    batch = scene()
    fused = _fused(batch)
    out = rsmif_core.create_loss("zpnn")(FusionOutput(fused), batch)
    spectral = (direct_degrade(fused, "GeoEye1", 4) - batch.ms).abs().mean()
    structural = direct_structural(fused[0].numpy(), batch.pan[0, 0].numpy(), batch.lms[0].numpy(), _pan_low(batch), 4)
    assert out.terms["spectral_l1"].item() == pytest.approx(spectral.item(), rel=1e-10)
    assert out.terms["structural"].item() == pytest.approx(structural, rel=1e-10, abs=1e-14)
    assert out.total.item() == pytest.approx(spectral.item() + ZPNN_BETA["GeoEye1"] * structural, rel=1e-10)
    chosen = rsmif_core.create_loss("zpnn", beta=2.0)(FusionOutput(fused), batch)
    assert chosen.total.item() == pytest.approx(spectral.item() + 2.0 * structural, rel=1e-10)


def test_lambda_pnn_loss_equals_its_formula() -> None:
    from rsmif_core.metrics import functional as fn

    batch = scene(size=128)  # MS 32×32: one Q2n block of 32
    fused = _fused(batch)
    out = rsmif_core.create_loss("lambda_pnn")(FusionOutput(fused), batch)
    low = direct_degrade(fused, "GeoEye1", 4)
    mse = (low - batch.ms).square().mean(dim=(-2, -1))
    ergas = 100 / 4 * torch.sqrt((mse / batch.ms.mean(dim=(-2, -1)).square()).mean())
    q2n = fn.q2n(low * 2047, batch.ms * 2047, 32, 32, quantise=False)
    structural = direct_structural(fused[0].numpy(), batch.pan[0, 0].numpy(), batch.lms[0].numpy(), _pan_low(batch), 4)
    alpha, beta, gamma = LAMBDA_PNN_WEIGHTS["GeoEye1"]
    assert out.terms["ergas"].item() == pytest.approx(ergas.item(), rel=1e-10)
    assert out.terms["d_lambda_k"].item() == pytest.approx(1 - q2n.item(), rel=1e-8, abs=1e-12)
    assert out.total.item() == pytest.approx(alpha * ergas.item() + beta * (1 - q2n.item()) + gamma * structural,
                                             rel=1e-8)


def test_hqnr_loss_is_one_minus_the_toolbox_hqnr_without_rounding() -> None:
    from rsmif_core.metrics import functional as fn

    batch = scene(size=64)
    fused = _fused(batch)
    out = rsmif_core.create_loss("hqnr")(FusionOutput(fused), batch)
    dn = [t * 2047 for t in (fused, batch.pan, batch.ms, batch.lms)]
    expected = fn.hqnr(dn[0], dn[1], dn[2], 4, "GeoEye1", 32, lms=dn[3], quantise=False)
    assert out.total.item() == pytest.approx(1 - expected.item(), rel=1e-10)
    assert out.terms["d_s"].item() == pytest.approx(fn.d_s(dn[0], dn[1], dn[2], 4, 32, lms=dn[3]).item(), rel=1e-10)
    weighted = rsmif_core.create_loss("hqnr", alpha=3.0, beta=0.5)(FusionOutput(fused), batch).total.item()
    expected = fn.hqnr(dn[0], dn[1], dn[2], 4, "GeoEye1", 32, lms=dn[3], alpha=3.0, beta=0.5, quantise=False)
    assert weighted == pytest.approx(1 - expected.item(), rel=1e-10)
    with pytest.raises(ValueError, match="alpha must be positive"):
        rsmif_core.create_loss("hqnr", alpha=0.0)
    small = scene(size=48)  # sides not multiples of 32: blocks of 16
    value = rsmif_core.create_loss("hqnr")(FusionOutput(_fused(small)), small).total.item()
    dn = [t * 2047 for t in (_fused(small), small.pan, small.ms, small.lms)]
    assert value == pytest.approx(1 - fn.hqnr(dn[0], dn[1], dn[2], 4, "GeoEye1", 16, lms=dn[3], quantise=False).item(),
                                  rel=1e-10)


@pytest.mark.parametrize("name", ["zpnn", "lambda_pnn", "hqnr"])
def test_losses_have_gradients_on_any_band_count_and_reject_what_they_cannot_take(name: str) -> None:
    for bands, sensor in ((8, "WV3"), (4, "qb"), (30, "none")):
        batch = scene(size=64, bands=bands, sensor=sensor)
        fused = _fused(batch).float().requires_grad_()
        loss = rsmif_core.create_loss(name)(FusionOutput(fused), batch).total
        loss.backward()
        assert fused.grad is not None and torch.isfinite(fused.grad).all() and fused.grad.abs().sum() > 0
    sar = Batch(pan=torch.rand(1, 2, 16, 16), ms=torch.rand(1, 4, 16, 16), lms=torch.rand(1, 4, 16, 16))
    with pytest.raises(rsmif_core.UsageError, match="ratio of at least 2"):
        rsmif_core.create_loss(name)(FusionOutput(sar.lms), sar)


@pytest.mark.parametrize("name", ["zpnn", "lambda_pnn", "hqnr"])
def test_a_few_steps_on_the_loss_lower_it(name: str) -> None:
    batch = scene(size=64, bands=4).to(torch.float32)
    torch.manual_seed(0)
    model = rsmif_core.create_model("pnn", spectral_bands=4, guide_bands=1, ratio=4, channels=(16, 8))
    loss_fn = rsmif_core.create_loss(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = loss_fn(model(batch), batch).total
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
