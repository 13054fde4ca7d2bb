"""Bad inputs get a clear error; degenerate ones a documented value (never a silent NaN)."""

from __future__ import annotations

import pytest
import torch

from rsmif_core.metrics import functional as fn
from rsmif_core.metrics.checks import MetricInputError

RR_FUNCS = [fn.sam, fn.ergas, fn.q_index, fn.q2n, fn.scc, fn.rmse, fn.cc, fn.rase]


def _img(*shape: int, seed: int = 0, lo: float = 100.0, hi: float = 1500.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("func", RR_FUNCS)
def test_shape_and_band_mismatch(func: object) -> None:
    with pytest.raises(MetricInputError, match="differ in bands"):
        func(_img(1, 4, 32, 32), _img(1, 3, 32, 32))  # type: ignore[operator]
    with pytest.raises(MetricInputError, match="differ in shape"):
        func(_img(1, 4, 32, 32), _img(1, 4, 32, 40))  # type: ignore[operator]
    with pytest.raises(MetricInputError, match="4 dimensions"):
        func(_img(4, 32, 32), _img(4, 32, 32))  # type: ignore[operator]
    with pytest.raises(MetricInputError, match="torch.Tensor"):
        func(_img(1, 4, 32, 32).numpy(), _img(1, 4, 32, 32))  # type: ignore[operator]


def test_images_smaller_than_the_block() -> None:
    with pytest.raises(MetricInputError, match="smaller than the block size 32"):
        fn.q_index(_img(1, 4, 20, 20), _img(1, 4, 20, 20, seed=1))
    with pytest.raises(MetricInputError, match="smaller than the block size 32"):
        fn.q2n(_img(1, 4, 20, 40), _img(1, 4, 20, 40, seed=1))
    with pytest.raises(MetricInputError, match="multiple of the block size"):
        fn.d_s(_img(1, 4, 48, 48), _img(1, 1, 48, 48), _img(1, 4, 12, 12), 4)
    with pytest.raises(MetricInputError, match="leaves nothing"):
        fn.sam(_img(1, 4, 30, 30), _img(1, 4, 30, 30), border=21)


def test_ratio_that_does_not_divide_and_wrong_pan() -> None:
    fused, pan = _img(1, 4, 64, 64), _img(1, 1, 64, 64)
    with pytest.raises(MetricInputError, match="divided by ratio 3"):
        fn.d_s(fused, pan, _img(1, 4, 16, 16), 3)
    with pytest.raises(MetricInputError, match="divided by ratio 4"):
        fn.hqnr(fused, pan, _img(1, 4, 15, 16), 4, "qb")
    with pytest.raises(MetricInputError, match="pan must be 1×1×64×64"):
        fn.d_s(fused, _img(1, 2, 64, 64), _img(1, 4, 16, 16), 4)
    with pytest.raises(MetricInputError, match="in batch or bands"):
        fn.d_lambda(fused, _img(1, 3, 16, 16))


def test_unknown_sensor_lists_the_known_ones() -> None:
    with pytest.raises(MetricInputError, match="known sensors: WV3, WV2, WV4, QB, IKONOS, GeoEye1, GF2, Pleiades, none"):
        fn.d_lambda_k(_img(1, 4, 64, 64), _img(1, 4, 16, 16), 4, "spot7")
    with pytest.raises(MetricInputError, match="8 bands"):
        fn.d_lambda_k(_img(1, 5, 64, 64), _img(1, 5, 16, 16), 4, "wv3")


def test_constant_images_give_documented_values() -> None:
    flat = torch.full((1, 4, 32, 32), 500.0, dtype=torch.float64)
    other = torch.full((1, 4, 32, 32), 250.0, dtype=torch.float64)
    zero = torch.zeros(1, 4, 32, 32, dtype=torch.float64)
    assert fn.q_index(flat, flat).item() == 1.0
    assert fn.q_index(other, flat).item() == pytest.approx(2 * 500 * 250 / (500**2 + 250**2))
    assert fn.q_index(zero, zero).item() == 1.0
    assert fn.sam(zero, zero).item() == 0.0
    assert fn.sam(flat, flat).item() == 0.0
    # SCC's Sobel uses zero padding (imfilter default), so only an all-zero image has no edges
    assert fn.scc(zero, zero).item() == 1.0 and fn.scc(zero, _img(1, 4, 32, 32)).item() == 0.0
    assert fn.scc(flat, flat).item() == pytest.approx(1.0)
    assert fn.cc(flat, flat).item() == 1.0 and fn.cc(_img(1, 4, 32, 32), flat).item() == 0.0
    assert fn.psnr(flat, flat, 2047.0).item() == float("inf")
    assert fn.ergas(flat, zero).item() == float("inf")
    q = fn.q2n(flat, flat)
    assert torch.isfinite(q).all()
    pan = torch.full((1, 1, 32, 32), 400.0, dtype=torch.float64)
    ms = torch.full((1, 4, 8, 8), 500.0, dtype=torch.float64)
    for value in (fn.d_lambda(flat, ms), fn.d_s(flat, pan, ms, 4), fn.qnr(flat, pan, ms, 4),
                  fn.d_lambda_k(flat, ms, 4, "qb"), fn.hqnr(flat, pan, ms, 4, "qb")):
        assert torch.isfinite(value).all()


def test_integer_inputs_are_read_as_their_values() -> None:
    gt = _img(1, 4, 32, 32).round()
    fused = _img(1, 4, 32, 32, seed=3)
    as_int = gt.to(torch.int32)
    for func in (fn.sam, fn.ergas, fn.q2n, fn.q_index):
        torch.testing.assert_close(func(fused, as_int), func(fused, gt))  # type: ignore[operator]


def test_bad_options() -> None:
    a, b = _img(1, 4, 32, 32), _img(1, 4, 32, 32, seed=1)
    with pytest.raises(MetricInputError, match="protocol"):
        fn.sam(a, b, protocol="octave")
    with pytest.raises(MetricInputError, match="border"):
        fn.sam(a, b, border=-1)
    with pytest.raises(MetricInputError, match="clip"):
        fn.sam(a, b, clip=(5.0, 1.0))
    with pytest.raises(MetricInputError, match="data_range"):
        fn.psnr(a, b, 0.0)
    with pytest.raises(MetricInputError, match="ratio"):
        fn.ergas(a, b, ratio=0)


def test_q2n_any_band_count_and_size() -> None:
    for bands in (1, 3, 5, 8, 13):
        gt = _img(2, bands, 40, 72).round()
        fused = gt + 20 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(bands), dtype=torch.float64)
        value = fn.q2n(fused, gt)
        assert value.shape == (2,) and torch.isfinite(value).all() and (value <= 1 + 1e-12).all()
        assert fn.q2n(gt, gt).allclose(torch.ones(2, dtype=torch.float64))


def test_hypercomplex_table_matches_the_toolbox_recursion() -> None:
    from rsmif_core.metrics.q2n import product_table, product_table_by_recursion

    for n in (1, 2, 4, 8, 16, 32):
        target, sign = product_table(n)
        ref_target, ref_sign = product_table_by_recursion(n)
        assert (target == ref_target).all() and (sign == ref_sign).all()


def test_q2n_on_hyperspectral_band_counts() -> None:
    gt = _img(1, 102, 32, 32).round()
    fused = gt + 15 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    value = fn.q2n(fused, gt)
    assert torch.isfinite(value).all() and 0 < value.item() < 1
