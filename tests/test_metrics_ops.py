"""The shared MTF filters and interpolators (rsmif_core.ops.mtf / rsmif_core.ops.interp)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rsmif_core.ops import interp, mtf


@pytest.mark.parametrize(("gain", "alpha"), [(0.325, 3.3349), (0.3, 3.2222), (0.15, 2.5669)])
def test_kernel_matches_genmtf_construction(gain: float, alpha: float) -> None:
    k = mtf.mtf_kernel(gain, 4)
    assert k.shape == (41, 41)
    # the Gaussian width of definitions.md §3
    got_alpha = math.sqrt((40 * (0.25 / 2)) ** 2 / (-2 * math.log(gain)))
    assert abs(got_alpha - alpha) < 1e-4
    # symmetric, peak in the centre, not renormalised (sum slightly below 1 like the toolbox)
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)
    assert k.argmax() == 20 * 41 + 20
    assert 0.995 < k.sum() < 1.0
    # frequency response at the MS Nyquist frequency (1/(2 ratio) cycles/pixel) is close to the gain
    freq = np.fft.fftfreq(41 * 8)
    response = np.abs(np.fft.fft(k.sum(axis=0), 41 * 8))
    nyquist = np.argmin(np.abs(freq - 1 / 8))
    assert abs(response[nyquist] - gain) < 0.02


def test_wv3_sum_of_first_band_kernel() -> None:
    # definitions.md: "sum ~0.99882 for WV3 band 1"
    assert abs(mtf.mtf_kernels("WV3", 4, 8)[0].sum() - 0.99882) < 1e-5


def test_sensor_table_and_aliases() -> None:
    assert mtf.ms_gains("wv3", 8) == (0.325, 0.355, 0.360, 0.350, 0.365, 0.360, 0.335, 0.315)
    assert mtf.ms_gains("QuickBird", 4) == (0.34, 0.32, 0.30, 0.22)
    assert mtf.ms_gains("WV2", 8)[-1] == 0.27
    assert mtf.ms_gains("geoeye-1", 4) == (0.23,) * 4
    assert mtf.ms_gains("gf2", 4) == (0.3,) * 4
    assert mtf.ms_gains("pleiades", 4) == (0.3,) * 4
    assert mtf.ms_gains(None, 3) == (0.3,) * 3
    assert mtf.ms_gains("wv4", 6) == (0.23,) * 6  # equal gains broadcast
    assert mtf.pan_gain("wv3") == 0.14 and mtf.pan_gain("ikonos") == 0.17 and mtf.pan_gain("gf2") == 0.15
    with pytest.raises(mtf.UnknownSensorError, match="WV3"):
        mtf.canonical_sensor("landsat9")
    # a 4-band image of an 8-band sensor is its blue, green, red, NIR1 product
    assert mtf.ms_gains("wv3", 4) == (0.355, 0.360, 0.365, 0.335)
    assert mtf.ms_gains("wv2", 4) == (0.35,) * 4
    assert mtf.choose_ms_gains("wv2", 4).bands == ("blue", "green", "red", "NIR1")
    with pytest.raises(ValueError, match="8 bands"):
        mtf.ms_gains("wv3", 5)


def test_filter_replicate_equals_direct_correlation() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 2, 24, 30, generator=g, dtype=torch.float64)
    kernels = torch.rand(2, 5, 5, generator=g, dtype=torch.float64)
    got = mtf.filter_replicate(x, kernels)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    direct = torch.nn.functional.conv2d(padded, kernels.unsqueeze(1), groups=2)  # conv2d is a correlation
    torch.testing.assert_close(got, direct, rtol=1e-12, atol=1e-12)


def test_mtf_filter_keeps_size_and_constant_level() -> None:
    x = torch.full((1, 4, 32, 32), 100.0, dtype=torch.float64)
    y = mtf.mtf_filter(x, "qb", 4)
    assert y.shape == x.shape
    sums = torch.tensor(mtf.mtf_kernels("qb", 4, 4).sum(axis=(1, 2)))
    torch.testing.assert_close(y[0, :, 16, 16], 100.0 * sums)


def test_mtf_degrade_picks_the_nearest_samples() -> None:
    x = torch.arange(64.0, dtype=torch.float64).reshape(1, 1, 8, 8)
    assert mtf.decimate(x, 4)[0, 0].tolist() == [[18.0, 22.0], [50.0, 54.0]]
    out = mtf.mtf_degrade(torch.rand(2, 8, 32, 32, dtype=torch.float64), "wv3", 4)
    assert out.shape == (2, 8, 8, 8)
    assert mtf.mtf_degrade_pan(torch.rand(1, 1, 32, 32, dtype=torch.float64), "wv3", 4).shape == (1, 1, 8, 8)
    with pytest.raises(ValueError, match="does not divide"):
        mtf.decimate(torch.rand(1, 1, 10, 10), 4)


@pytest.mark.parametrize("ratio", [2, 4, 8])
def test_interp23tap_keeps_samples_and_constants(ratio: int) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 8, 6, generator=g, dtype=torch.float64)
    y = interp.interp23tap(x, ratio)
    assert y.shape == (2, 3, 8 * ratio, 6 * ratio)
    # an interpolating filter: the input samples come back at the toolbox's sample grid
    offset = ratio // 2  # first level at odd positions, later levels at even ones
    torch.testing.assert_close(y[..., offset::ratio, offset::ratio], x, rtol=1e-9, atol=1e-9)
    const = interp.interp23tap(torch.full((1, 1, 8, 8), 7.0, dtype=torch.float64), ratio)
    torch.testing.assert_close(const, torch.full_like(const, 7.0))
    with pytest.raises(ValueError, match="power of 2"):
        interp.interp23tap(x, 3)


def _imresize_loop(a: np.ndarray, scale: float) -> np.ndarray:
    """An independent, loop-by-loop statement of MATLAB imresize (bicubic, antialiased) for one 2-D array."""

    def cubic(t: float) -> float:
        t = abs(t)
        if t <= 1:
            return 1.5 * t**3 - 2.5 * t**2 + 1
        if t <= 2:
            return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
        return 0.0

    def along(rows: np.ndarray) -> np.ndarray:
        n = rows.shape[0]
        m = math.ceil(n * scale)
        width = 4 / scale
        out = np.zeros((m, rows.shape[1]))
        for i in range(1, m + 1):
            u = i / scale + 0.5 * (1 - 1 / scale)
            left = math.floor(u - width / 2)
            idx = [left + k for k in range(int(math.ceil(width)) + 2)]
            w = np.array([scale * cubic(scale * (u - j)) for j in idx])
            w /= w.sum()
            for wj, j in zip(w, idx):
                j0 = j - 1
                while j0 < 0 or j0 >= n:  # symmetric extension
                    j0 = -j0 - 1 if j0 < 0 else 2 * n - j0 - 1
                out[i - 1] += wj * rows[j0]
        return out

    return along(along(a).T).T


def test_imresize_matches_a_loop_statement_of_matlab() -> None:
    a = np.random.default_rng(3).random((24, 20)) * 2000
    got = interp.imresize(torch.from_numpy(a)[None, None], 0.25)[0, 0].numpy()
    assert got.shape == (6, 5)
    np.testing.assert_allclose(got, _imresize_loop(a, 0.25), rtol=1e-12, atol=1e-9)
    up = interp.imresize(torch.ones(1, 1, 5, 7, dtype=torch.float64), size=(10, 14))
    torch.testing.assert_close(up, torch.ones_like(up))
    with pytest.raises(ValueError, match="exactly one"):
        interp.imresize(torch.ones(1, 1, 4, 4), 0.5, size=(2, 2))


def test_default_ssim_is_wangs_valid_window_ssim() -> None:
    """Our SSIM = the Gaussian (11, 1.5) SSIM map of ssim.m over the 'valid' region; torchmetrics computes the
    same map on a reflect-padded image, so its map cropped by 5 pixels must give our value."""
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    from rsmif_core.metrics import functional as fn

    g = torch.Generator().manual_seed(0)
    ref = 0.1 + 0.8 * torch.rand(2, 3, 40, 36, generator=g, dtype=torch.float64)
    fused = (ref + 0.05 * torch.randn(ref.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    _, full_map = tm_ssim(fused, ref, data_range=1.0, return_full_image=True)
    expected = full_map[..., 5:-5, 5:-5].mean(dim=(1, 2, 3))
    torch.testing.assert_close(fn.ssim(fused, ref, 1.0), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("shape", "window"), [
    ((3, 11, 11), "gauss11"), ((3, 11, 11), "box7"), ((2, 37, 53), "gauss11"), ((2, 37, 53), "box32"),
    ((1, 256, 70), "gauss11"), ((1, 256, 70), "box32"), ((4, 40, 200), "box7"), ((4, 40, 200), "box32"),
])
def test_separable_valid_filter_equals_conv2d(shape: tuple[int, int, int], window: str) -> None:
    """The tiled band-matrix products equal a plain 'valid' 2-D correlation, whatever the tiling."""
    from rsmif_core.metrics.filters import gaussian_taps, separable_valid_filter

    taps = {"gauss11": gaussian_taps(11, 1.5), "box32": (1.0,) * 32, "box7": (1.0,) * 7}[window]
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2047
    kernel = torch.tensor(taps, dtype=torch.float64)
    expected = torch.nn.functional.conv2d(x[:, None], torch.outer(kernel, kernel)[None, None])[:, 0]
    torch.testing.assert_close(separable_valid_filter(x, taps), expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("size", [(3, 3), (3, 5), (5, 3), (4, 4), (9, 17)])
def test_scc_sobel_equals_zero_padded_conv2d(size: tuple[int, int]) -> None:
    """SCC.m's Sobel on the interior with zero padding, stated with conv2d, on sizes down to a 1-pixel interior."""
    from rsmif_core.metrics import functional as fn

    g = torch.Generator().manual_seed(2)
    ref = torch.rand(2, 3, *size, generator=g, dtype=torch.float64)
    fused = torch.rand(2, 3, *size, generator=g, dtype=torch.float64)
    sobel = torch.tensor([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]], dtype=torch.float64)

    def magnitude(x: torch.Tensor) -> torch.Tensor:
        inner = x[..., 1:-1, 1:-1].reshape(-1, 1, size[0] - 2, size[1] - 2)
        gy = torch.nn.functional.conv2d(inner, sobel[None, None], padding=1)
        gx = torch.nn.functional.conv2d(inner, sobel.t()[None, None], padding=1)
        return torch.sqrt(gx**2 + gy**2).reshape(2, -1)

    gf, gr = magnitude(fused), magnitude(ref)
    den = torch.sqrt((gf**2).sum(1) * (gr**2).sum(1))
    expected = torch.where(den > 0, (gf * gr).sum(1) / den.clamp(min=1e-300), torch.ones_like(den))
    torch.testing.assert_close(fn.scc(fused, ref), expected, rtol=1e-12, atol=1e-12)


def test_chunks_on_threads_give_the_single_call_result() -> None:
    """over_leading splits the first axis into cache-sized chunks run on a thread pool: same values, same
    order, whatever the torch thread setting; the setting is restored afterwards."""
    from rsmif_core.metrics.chunks import over_leading

    x = torch.rand(37, 3, 64, 64, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = torch.rand(37, 3, 64, 64, generator=torch.Generator().manual_seed(4), dtype=torch.float64)

    def per_item(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(dim=(1, 2, 3)) + torch.arange(a.shape[0], dtype=a.dtype)

    expected = torch.cat([per_item(x[i : i + 1], y[i : i + 1]) for i in range(37)])
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            got = over_leading(per_item, x, y, target=3 * 64 * 64)  # one item per chunk
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(previous)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_chunk_pool_works_in_a_forked_child() -> None:
    """A DataLoader worker forked after the pool started must get its own threads, not hang on the parent's."""
    import multiprocessing

    from rsmif_core.metrics import functional as fn

    x = torch.rand(6, 3, 40, 40, dtype=torch.float64)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = fn.ssim(x, x.flip(-1), 1.0)  # starts the pool in this process
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:
            got = pool.apply_async(_ssim_in_child, (x,)).get(timeout=120)
    finally:
        torch.set_num_threads(previous)
    torch.testing.assert_close(got, expected)


def _ssim_in_child(x: torch.Tensor) -> torch.Tensor:
    from rsmif_core.metrics import functional as fn

    torch.set_num_threads(2)
    return fn.ssim(x, x.flip(-1), 1.0)


def _octave_probe() -> torch.Tensor:
    """The 5×7 input of the Octave runs below: ``reshape(mod((0:34) * 37, 101), 5, 7) / 7`` (column-major)."""
    values = np.mod(np.arange(35) * 37, 101).reshape(7, 5).T / 7
    return torch.from_numpy(values)[None, None]


def test_interp23tap_general_matches_octave() -> None:
    # values of interp23tapGeneral.m (2021 toolbox: L = 44, MATLAB fir1) run in GNU Octave 7.3
    x = _octave_probe()
    expected = {
        3: ((slice(4, 6), slice(2, 5)), [[5.648281009701041, 4.901026406331402, 2.8574715873149024],
                                         [9.126611469139714, 5.919725821625492, 1.213956071389904]]),
        5: ((slice(0, 2), slice(0, 3)), [[7.210724211527098, 4.708417506454961, 3.228183356054036],
                                         [6.260357299391252, 3.120584609076936, 1.3677414152321017]]),
        4: ((slice(7, 9), slice(10, 12)), [[-0.8342023090514333, 2.2577386011857206],
                                           [-0.16326367863620025, 2.4918349873234718]]),
    }
    for ratio, (where, values) in expected.items():
        y = interp.interp23tap_general(x, ratio)
        assert y.shape == (1, 1, 5 * ratio, 7 * ratio)
        torch.testing.assert_close(y[0, 0][where], torch.tensor(values, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    # MATLAB's fir1 is a Hamming-windowed sinc with DC gain 1
    taps = interp.fir1_lowpass(44, 1 / 3)
    assert taps.shape == (45,) and abs(taps.sum() - 1) < 1e-15 and taps.argmax() == 22
    with pytest.raises(ValueError, match="positive integer"):
        interp.interp23tap_general(x, 0)


def test_lp_filter_gauss_matches_octave() -> None:
    # LPfilterGauss.m in GNU Octave on P = reshape(mod((0:47*53-1) * 7919, 2003), 47, 53)
    p = torch.from_numpy(np.mod(np.arange(47 * 53) * 7919, 2003).reshape(53, 47).T.astype(np.float64))[None, None]
    lp4 = mtf.lp_filter_gauss(p, 4)[0, 0]
    torch.testing.assert_close(lp4[0:2, 0:3], torch.tensor([[934.0039967903483, 982.2610573751383, 980.9964978363762],
                                                             [1124.4473263930727, 1097.9795553588956, 1039.244538785077]],
                                                            dtype=torch.float64), rtol=1e-12, atol=1e-9)
    lp2 = mtf.lp_filter_gauss(p, 2)[0, 0]
    torch.testing.assert_close(lp2[23:25, 50:53], torch.tensor([[1192.486389470118, 1219.7131641348155, 1038.4180287681281],
                                                                 [1295.618945562976, 1168.186150020472, 949.0129255358856]],
                                                                dtype=torch.float64), rtol=1e-12, atol=1e-9)
    # N instead of N - 1 widens the frequency response: a narrower kernel than genMTF's of the same gain
    gauss, genmtf = mtf.lp_gauss_kernel(4), mtf.mtf_kernel(0.3, 4)
    assert gauss[20, 20] > genmtf[20, 20]


def test_imresize_bilinear_and_nearest_follow_matlab() -> None:
    # MATLAB imresize(X, [10 14], 'bilinear') and [11 13] (statement of MATLAB's contributions run in Octave)
    x = _octave_probe()
    up = interp.imresize(x, size=(10, 14), method="bilinear")[0, 0]
    torch.testing.assert_close(up[0:2, 0:3], torch.tensor([[0.0, 3.0, 9.0], [1.3214285714285714, 3.4196428571428568, 7.616071428571428]],
                                                          dtype=torch.float64), rtol=1e-12, atol=1e-12)
    odd = interp.imresize(x, size=(11, 13), method="bilinear")[0, 0]
    torch.testing.assert_close(odd[9:11, 10:13], torch.tensor([[7.665334665334663, 6.357642357642353, 5.610389610389607],
                                                               [8.626373626373628, 7.318681318681318, 6.571428571428571]],
                                                              dtype=torch.float64), rtol=1e-12, atol=1e-12)
    # nearest shrinking keeps the samples that decimate keeps (no antialiasing, as MATLAB)
    big = torch.rand(1, 2, 12, 24, dtype=torch.float64)
    for ratio in (2, 3, 4):
        torch.testing.assert_close(interp.imresize(big, 1 / ratio, method="nearest"), mtf.decimate(big, ratio), rtol=0, atol=0)
    with pytest.raises(ValueError, match="unknown method"):
        interp.imresize(big, 0.5, method="lanczos3")
