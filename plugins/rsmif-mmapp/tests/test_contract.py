"""The RSMIF model contract on every task geometry, and clear errors for inputs MMAPP cannot take."""

from __future__ import annotations

import pytest
import torch
from rsmif_mmapp import MMAPP, pyramid_steps

from rsmif_core.testing import TASK_CASES, make_batch
from rsmif_core.testing import check_model_contract as check

# ACmix's conv_p bias enters the keys' positional term pe(p) − pe(p+δ) on both sides and cancels in the softmax:
# its gradient is zero up to rounding (also in the authors' network), so it is not asked for one.
INERT = (r"\.conv_p\.bias$",)


@pytest.mark.parametrize("case", TASK_CASES.values(), ids=list(TASK_CASES))
def test_contract_on_every_task(case) -> None:
    hyper = {"side_bands": 8} if case.spectral_bands > 32 else None  # keeps the 102-band case small
    model = check(MMAPP, case, size=16, hyper=hyper, unused_parameters=INERT)
    out = model.eval()(make_batch(case, size=16))
    up1, up2 = model.steps
    assert up1 * up2 == case.ratio
    h = 16 // case.ratio
    assert out.extras["out1"].shape[-2:] == (h, h)
    assert out.extras["out2"].shape[-2:] == (h * up1, h * up1)
    assert out.extras["ms_u4"].shape == out.fused.shape


def test_default_side_bands_follow_the_spectral_bands() -> None:
    case = TASK_CASES["ms-hs"]
    check(MMAPP, case, size=16, unused_parameters=INERT)


@pytest.mark.parametrize(("ratio", "steps"), [(1, (1, 1)), (2, (1, 2)), (3, (1, 3)), (4, (2, 2)), (8, (2, 4)), (16, (4, 4))])
def test_pyramid_steps(ratio: int, steps: tuple[int, int]) -> None:
    assert pyramid_steps(ratio) == steps


def test_rejects_a_too_small_spectral_image() -> None:
    model = MMAPP(8, 1, 4).eval()
    with pytest.raises(ValueError, match=r"at least 4×4"):
        model.pyramid(torch.rand(1, 8, 2, 2), torch.rand(1, 1, 8, 8))


def test_rejects_wrong_band_counts() -> None:
    model = MMAPP(4, 1, 4).eval()
    with pytest.raises(ValueError, match="4 spectral \\+ 1 guide"):
        model.pyramid(torch.rand(1, 8, 4, 4), torch.rand(1, 1, 16, 16))


def test_rejects_steps_that_do_not_make_the_ratio() -> None:
    with pytest.raises(ValueError, match="product is the ratio 4"):
        MMAPP(8, 1, 4, steps=(1, 2))


def test_rejects_unknown_hyper_parameters() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'feature'"):
        MMAPP(8, 1, 4, feature=32)
