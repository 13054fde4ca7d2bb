"""The dynamic convolutions, the frequency split and the blocks, checked against plain references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from rsmif_cf2n.blocks import AWF, RB, high_pass, low_pass, split_frequencies
from rsmif_cf2n.dynamic import pixelwise_conv, samplewise_depthwise_conv
from rsmif_cf2n.fd2r import FD2R
from rsmif_cf2n.fscfm import FSCFM


@pytest.mark.parametrize("k", [1, 3, 5])
def test_pixelwise_conv_equals_the_unfold_definition(k: int) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 6, generator=g, dtype=torch.float64)
    kernel = torch.rand(2, k * k, 7, 6, generator=g, dtype=torch.float64)
    scale = torch.rand(2, 3, 1, 1, generator=g, dtype=torch.float64)
    cols = F.unfold(x, k, padding=k // 2).view(2, 3, k * k, 7, 6)
    expected = (cols * kernel[:, None]).sum(2) * scale
    torch.testing.assert_close(pixelwise_conv(x, kernel, scale), expected)
    torch.testing.assert_close(pixelwise_conv(x, kernel), expected / scale)


def test_pixelwise_conv_gradients() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    kernel = torch.rand(1, 9, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    scale = torch.rand(1, 2, 1, 1, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pixelwise_conv, (x, kernel, scale))


def test_samplewise_depthwise_conv_equals_a_loop_over_samples() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 9, 8, generator=g)
    kernel = torch.randn(3, 4, 3, 3, generator=g)
    expected = torch.cat([F.conv2d(x[i : i + 1], kernel[i].unsqueeze(1), padding=1, groups=4) for i in range(3)])
    torch.testing.assert_close(samplewise_depthwise_conv(x, kernel), expected)


def test_dynamic_conv_shape_errors_are_named() -> None:
    x = torch.zeros(2, 3, 5, 5)
    with pytest.raises(ValueError, match="k² channels"):
        pixelwise_conv(x, torch.zeros(2, 8, 5, 5))
    with pytest.raises(ValueError, match="does not fit"):
        samplewise_depthwise_conv(x, torch.zeros(2, 4, 3, 3))


@pytest.mark.parametrize("size", [1, 3, 5])
@pytest.mark.parametrize("shape", [(2, 3, 9, 7), (1, 2, 2, 3)])
def test_low_pass_is_the_average_over_the_window_pixels_inside_the_image(size: int, shape: tuple[int, ...]) -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    expected = F.avg_pool2d(x, size, stride=1, padding=size // 2, count_include_pad=False)
    torch.testing.assert_close(low_pass(x, size), expected)
    grad = torch.randn(shape, generator=g, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(low_pass(x, size), x, grad)[0], torch.autograd.grad(expected, x, grad)[0])


def test_frequency_split_is_exact_and_constant_images_have_no_high_frequency() -> None:
    x = torch.rand(2, 3, 9, 7)
    hf, lf = split_frequencies(x)
    torch.testing.assert_close(hf + lf, x)
    flat = torch.full((1, 2, 6, 5), 0.7)
    assert high_pass(flat).abs().max() < 1e-6  # border windows average only inside pixels


def test_awf_weights_are_a_convex_choice_between_unique_and_complementary() -> None:
    torch.manual_seed(0)
    awf = AWF(8)
    a, b = torch.rand(2, 8, 6, 6), torch.rand(2, 8, 6, 6)
    u, c = awf.unique(a - b), awf.complementary(torch.cat([a, b], 1))
    out = awf(a, b)
    lo, hi = torch.minimum(u, c), torch.maximum(u, c)
    assert out.shape == (2, 8, 6, 6)
    assert bool(((out >= lo - 1e-6) & (out <= hi + 1e-6)).all())


def test_rb_changes_width_and_fd2r_returns_a_b_band_detail_image() -> None:
    torch.manual_seed(0)
    head = RB(2, 8)
    f = head(torch.rand(1, 2, 10, 10))
    assert f.shape == (1, 8, 10, 10)
    fd2r = FD2R(8, spectral_bands=13)
    assert fd2r(f, f).shape == (1, 13, 10, 10)
    assert fd2r(f[..., :9, :7], f[..., :9, :7]).shape == (1, 13, 9, 7)


def test_untrained_fsm_kernel_is_near_identity() -> None:
    """κ'_ς is predicted around the identity kernel, so F_out ≈ κ_s ⊙ F_mid at zero FSM output."""
    torch.manual_seed(0)
    block = FSCFM(8, kernel_size=3)
    torch.nn.init.zeros_(block.fsm.kernel[1].weight)
    torch.nn.init.zeros_(block.fsm.kernel[1].bias)
    f_c, f_s = torch.rand(2, 8, 6, 6), torch.rand(2, 8, 6, 6)
    mid, out = block(f_c, f_s)
    torch.testing.assert_close(out, mid * block.sda(f_s))
