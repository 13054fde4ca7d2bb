"""A 20-step fit on one tiny batch lowers the method's loss (L1, the authors' option.yml default)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch.nn.functional as F
from rsmif_cf2n import CF2N

import rsmif_core
from rsmif_core.testing import TASK_CASES, make_batch, train_briefly


@pytest.mark.parametrize("name", ["pansharpening-wv3", "sar-optical"])
def test_twenty_steps_lower_the_l1_loss(name: str) -> None:
    """The target is lms plus the guide's high frequencies (detail injection), which the network can learn;
    make_batch's own random gt has no relation to the guide, so its loss can only fall by memorising."""
    case = TASK_CASES[name]
    batch = make_batch(case, size=16, batch_size=2, seed=1)
    guide = batch.pan.mean(1, keepdim=True)
    detail = guide - F.avg_pool2d(guide, 3, stride=1, padding=1, count_include_pad=False)
    batch = replace(batch, gt=batch.lms + 0.5 * detail)
    model = CF2N(case.spectral_bands, case.guide_bands, case.ratio, channels=8)
    first, last = train_briefly(model, rsmif_core.create_loss("l1"), batch, steps=20, lr=1e-3)
    assert last < 0.8 * first, f"L1 went from {first:.4f} to {last:.4f} in 20 steps"
