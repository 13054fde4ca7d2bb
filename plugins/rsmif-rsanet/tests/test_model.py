"""RSANet: the model contract on every task, errors for inputs it cannot take, a short training run."""

from __future__ import annotations

import pytest
import torch
from rsmif_rsanet import RSANet

from rsmif_core import create_loss
from rsmif_core.testing import TASK_CASES, check_model_contract, make_batch, train_briefly

# conv_p's bias enters pe(p) − pe(p+δ) twice and cancels: it has no gradient (also in the authors' network).
NO_GRADIENT = (r"\.conv_p\.bias$",)


@pytest.mark.parametrize("case", TASK_CASES.values(), ids=TASK_CASES.keys())
def test_contract_on_every_task(case):
    model = check_model_contract(RSANet, case, size=8, unused_parameters=NO_GRADIENT)
    assert model.head_conv[0].weight.shape[1] == case.guide_bands + case.spectral_bands
    assert model.tail_conv.weight.shape[0] == case.spectral_bands


def test_conv_p_bias_really_has_no_effect():
    case = TASK_CASES["pansharpening-qb"]
    torch.manual_seed(0)
    model = RSANet(case.spectral_bands, case.guide_bands, case.ratio).eval()
    batch = make_batch(case, size=8)
    with torch.no_grad():
        before = model(batch).fused
        for name, p in model.named_parameters():
            if name.endswith("conv_p.bias"):
                p.add_(1.0)
        after = model(batch).fused
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-6)


def test_hyper_parameters_change_the_network():
    small = RSANet(4, 1, 4, features=12, blocks=1, recursions=2)
    assert [n for n, _ in small.named_children()] == ["head_conv", "RB1", "tail_conv"]
    assert len(small.head_conv[0].attention1) == 4
    assert small.head_conv[0].weight.shape == (12, 5, 3, 3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'channels'"):
        RSANet(4, 1, 4, channels=32)
    with pytest.raises(ValueError, match="not divisible by heads"):
        RSANet(4, 1, 4, heads=4)
    with pytest.raises(ValueError, match="attention_impl must be one of auto, fused, views"):
        RSANet(4, 1, 4, attention_impl="shifts")


def test_clear_errors_for_inputs_it_cannot_take():
    case = TASK_CASES["pansharpening-qb"]
    model = RSANet(case.spectral_bands, case.guide_bands, case.ratio)
    with pytest.raises(ValueError, match="at least 4×4"):
        model(_tiny_batch(case))
    wrong = make_batch(TASK_CASES["pansharpening-wv3"], size=8, batch_size=1)
    with pytest.raises(ValueError, match="built for 1 guide \\+ 4 spectral"):
        model(wrong)


def _tiny_batch(case):
    from rsmif_core import Batch, BatchMeta

    return Batch(pan=torch.rand(1, 1, 3, 3), ms=torch.rand(1, 4, 3, 3), lms=torch.rand(1, 4, 3, 3),
                 meta=BatchMeta(task=case.task, ratio=1))


def test_twenty_steps_lower_the_l1_loss():
    case = TASK_CASES["pansharpening-wv3"]
    torch.manual_seed(0)
    model = RSANet(case.spectral_bands, case.guide_bands, case.ratio)
    batch = make_batch(case, size=8, batch_size=2, seed=3)
    first, last = train_briefly(model, create_loss("l1"), batch, steps=20, lr=3e-3)
    assert last < 0.95 * first, (first, last)
