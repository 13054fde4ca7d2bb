"""A 20-step fit on one tiny batch lowers the method's loss (L1, the authors' option.yml default)."""

from __future__ import annotations

import pytest
from rsmif_cf2n import CF2N

import rsmif_core
from rsmif_core.testing import TASK_CASES, make_batch, train_briefly


@pytest.mark.parametrize("name", ["pansharpening-wv3", "sar-optical"])
def test_twenty_steps_lower_the_l1_loss(name: str) -> None:
    case = TASK_CASES[name]
    model = CF2N(case.spectral_bands, case.guide_bands, case.ratio, channels=16)
    batch = make_batch(case, size=16, batch_size=2, seed=1)
    first, last = train_briefly(model, rsmif_core.create_loss("l1"), batch, steps=20, lr=1e-3)
    assert last < 0.7 * first, f"L1 went from {first:.4f} to {last:.4f} in 20 steps"
