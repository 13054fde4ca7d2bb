"""The fused CPU kernels (rsmif_core.metrics.kernels) give the torch path's values: every index, shape,
degenerate case and thread count. The torch path is what other devices run; parity with the toolbox
is tested on the default (kernel) path in test_metrics_parity.py."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from rsmif_core.metrics import functional as fn
from rsmif_core.metrics.checks import MetricInputError
from rsmif_core.metrics.moments import Kernels, use_kernels

Index = Callable[[Tensor, Tensor, Kernels], Tensor]

INDICES: dict[str, Index] = {
    "sam": lambda f, r, k: fn.sam(f, r, kernels=k),
    "ergas": lambda f, r, k: fn.ergas(f, r, 4, kernels=k),
    "q_index": lambda f, r, k: fn.q_index(f, r, 8, kernels=k),
    "q_index_odd": lambda f, r, k: fn.q_index(f, r, 5, kernels=k),
    "q2n": lambda f, r, k: fn.q2n(f, r, 8, 8, kernels=k),
    "q2n_overlapping": lambda f, r, k: fn.q2n(f, r, 8, 5, kernels=k),
    "q2n_unquantised": lambda f, r, k: fn.q2n(f, r, 8, 8, quantise=False, kernels=k),
    "scc": lambda f, r, k: fn.scc(f, r, kernels=k),
    "psnr": lambda f, r, k: fn.psnr(f, r, 2047.0, kernels=k),
    "ssim": lambda f, r, k: fn.ssim(f, r, 2047.0, kernels=k),
    "rmse": lambda f, r, k: fn.rmse(f, r, kernels=k),
    "cc": lambda f, r, k: fn.cc(f, r, kernels=k),
    "rase": lambda f, r, k: fn.rase(f, r, kernels=k),
    "border_and_clip": lambda f, r, k: fn.ergas(f, r, 4, border=3, clip=1500.0, kernels=k),
    "ssim_border": lambda f, r, k: fn.ssim(f, r, 2047.0, border=2, kernels=k),
    "cc_authors": lambda f, r, k: fn.cc(f, r, protocol="authors", kernels=k),
    "scc_authors": lambda f, r, k: fn.scc(f, r, protocol="authors", kernels=k),
}


def _both(index: Index, f: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
    return index(f, r, "numba"), index(f, r, "torch")


def _pair(shape: tuple[int, ...], seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    r = torch.rand(shape, generator=g, dtype=torch.float64) * 2000 + 10
    f = r + 40 * torch.randn(shape, generator=g, dtype=torch.float64)
    return f, r


@pytest.mark.parametrize("name", sorted(INDICES))
@pytest.mark.parametrize("shape", [(2, 4, 24, 24), (1, 3, 17, 29), (3, 8, 16, 16)])
def test_kernels_equal_the_torch_path(name: str, shape: tuple[int, ...]) -> None:
    f, r = _pair(shape)
    got, expected = _both(INDICES[name], f, r)
    assert got.shape == expected.shape == (shape[0],)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["flat", "zero", "flat_windows", "identical", "one_flat_band"])
def test_kernels_equal_the_torch_path_on_degenerate_images(case: str) -> None:
    f, r = _pair((2, 4, 24, 24), seed=1)
    if case == "flat":
        f, r = torch.full_like(f, 300.0), torch.full_like(r, 500.0)
    elif case == "zero":
        f, r = torch.zeros_like(f), torch.zeros_like(r)
    elif case == "flat_windows":  # constant quarters: many windows with zero variance, some with zero mean
        r = torch.zeros_like(r)
        r[..., :12, :12] = 700.0
        r[..., 12:, 12:] = 30.0
        f = r.clone()
        f[..., :12, 12:] = 5.0
    elif case == "identical":
        f = r.clone()
    else:
        f[:, 1] = 800.0
        r[:, 2] = 0.0
    for name, index in INDICES.items():
        got, expected = _both(index, f, r)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True, msg=f"{case}: {name}")


def test_smallest_sizes_each_kernel_accepts() -> None:
    f, r = _pair((1, 2, 11, 11))
    indices: list[Index] = [lambda f, r, k: fn.ssim(f, r, 2047.0, kernels=k), lambda f, r, k: fn.q_index(f, r, 11, kernels=k),
                            lambda f, r, k: fn.scc(f, r, kernels=k), lambda f, r, k: fn.q2n(f, r, 11, 11, kernels=k)]
    for index in indices:
        got, expected = _both(index, f, r)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    f, r = _pair((1, 2, 3, 3))
    got, expected = _both(lambda f, r, k: fn.scc(f, r, kernels=k), f, r)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_kernel_results_do_not_depend_on_the_thread_count(threads: int) -> None:
    f, r = _pair((5, 4, 20, 20), seed=2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = [index(f, r, "numba") for index in INDICES.values()]
        torch.set_num_threads(threads)
        many = [index(f, r, "numba") for index in INDICES.values()]
    finally:
        torch.set_num_threads(before)
    for a, b in zip(single, many):
        assert torch.equal(a, b)


def test_kernel_switch() -> None:
    x = torch.zeros(1)
    assert use_kernels(x, "numba")
    assert not use_kernels(x, "torch")
    with pytest.raises(MetricInputError, match="kernels='cuda': expected one of numba, torch"):
        use_kernels(x, "cuda")  # type: ignore[arg-type]
    assert not use_kernels(torch.zeros(1, device="meta"), "numba")
    with pytest.raises(MetricInputError, match="kernels='fast'"):
        fn.sam(torch.ones(1, 2, 4, 4), torch.ones(1, 2, 4, 4), kernels="fast")  # type: ignore[arg-type]


def test_kernels_compile_without_a_writable_cache_location() -> None:
    # numba raises at decoration when it finds no writable cache folder (read-only install and home)
    code = (
        "import numba.core.caching as caching\n"
        "caching.CacheImpl._locator_classes = []\n"
        "import torch\n"
        "from rsmif_core.metrics import functional as fn\n"
        "x = torch.rand(1, 2, 12, 12, dtype=torch.float64)\n"
        "print(float(fn.rmse(x, x)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0.0"
