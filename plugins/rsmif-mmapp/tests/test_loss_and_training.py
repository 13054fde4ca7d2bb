"""The multiscale loss (weights, terms, every ratio) and a short training run that lowers it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from rsmif_mmapp import MMAPP, MultiscaleL1

import rsmif_core
from rsmif_core import FusionOutput
from rsmif_core.testing import TASK_CASES, make_batch, train_briefly


def test_loss_matches_the_authors_formula() -> None:
    case = TASK_CASES["pansharpening-wv3"]
    batch = make_batch(case, size=16)
    g = torch.Generator().manual_seed(3)
    out1, out2, out3, ms_u4 = (torch.rand(2, 8, s, s, generator=g) for s in (4, 8, 16, 16))
    result = MultiscaleL1()(FusionOutput(fused=out3, extras={"out1": out1, "out2": out2, "ms_u4": ms_u4}), batch)
    gt = batch.gt
    gt2 = F.interpolate(gt, size=[8, 8], mode="bicubic", align_corners=True)
    gt4 = F.interpolate(gt, size=[4, 4], mode="bicubic", align_corners=True)
    expected = (
        0.2 * F.l1_loss(out1, gt4) + 0.3 * F.l1_loss(out2, gt2) + 0.5 * F.l1_loss(out3, gt) + 0.01 * F.l1_loss(ms_u4, batch.lms)
    )
    torch.testing.assert_close(result.total, expected)
    assert set(result.terms) == {"level1", "level2", "final", "ms_branch"}
    torch.testing.assert_close(result.terms["level1"], F.l1_loss(out1, gt4))


def test_loss_weights_are_configurable_through_the_registry() -> None:
    case = TASK_CASES["sar-optical"]
    batch = make_batch(case, size=16)
    model = MMAPP(case.spectral_bands, case.guide_bands, case.ratio).eval()
    with torch.no_grad():
        out = model(batch)
    only_final = rsmif_core.create_loss("mmapp_multiscale", level1=0, level2=0, final=1, ms_branch=0)(out, batch)
    torch.testing.assert_close(only_final.total, F.l1_loss(out.fused, batch.gt))
    # ratio 1: every level is on the guide grid, compared with gt itself (deep supervision)
    torch.testing.assert_close(only_final.terms["level1"], F.l1_loss(out.extras["out1"], batch.gt))


def test_loss_errors_are_clear() -> None:
    batch = make_batch(TASK_CASES["pansharpening-wv3"], size=16)
    with pytest.raises(ValueError, match="missing out1, out2, ms_u4"):
        MultiscaleL1()(FusionOutput(fused=batch.lms), batch)


@pytest.mark.parametrize("name", ["pansharpening-wv3", "sar-optical"])
def test_twenty_steps_lower_the_loss(name: str) -> None:
    case = TASK_CASES[name]
    torch.manual_seed(0)
    model = MMAPP(case.spectral_bands, case.guide_bands, case.ratio)
    first, last = train_briefly(model, MultiscaleL1(), make_batch(case, size=16, seed=1), steps=20, lr=1e-3)
    assert last < 0.8 * first, (first, last)
