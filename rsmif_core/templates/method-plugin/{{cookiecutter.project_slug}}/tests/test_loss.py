"""The plugin's own loss: zero at a perfect fit, both terms reported, a clear error without reference."""

from __future__ import annotations

import pytest
import torch
from rsmif_core import FusionOutput
from rsmif_core.testing import TASK_CASES, make_batch

from {{ cookiecutter.package_name }}.losses import {{ cookiecutter.__class_name }}Loss, spectral_direction_error


def test_zero_at_a_perfect_fit_and_positive_otherwise() -> None:
    batch = make_batch(TASK_CASES["pansharpening-wv3"], size=16)
    assert batch.gt is not None
    loss = {{ cookiecutter.__class_name }}Loss(spectral_weight=0.5)
    perfect = loss(FusionOutput(fused=batch.gt.clone()), batch)
    assert float(perfect.total) == pytest.approx(0.0, abs=1e-6)
    worse = loss(FusionOutput(fused=batch.lms), batch)
    assert float(worse.total) > 0
    assert set(worse.terms) == {"l1", "spectral"}
    expected = worse.terms["l1"] + 0.5 * worse.terms["spectral"]
    assert torch.allclose(worse.total.detach(), expected)


def test_spectral_term_ignores_brightness() -> None:
    reference = torch.rand(2, 4, 8, 8) + 0.1
    assert float(spectral_direction_error(3 * reference, reference)) == pytest.approx(0.0, abs=1e-6)


def test_needs_a_reference() -> None:
    batch = make_batch(TASK_CASES["pansharpening-wv3"], size=16)
    batch.gt = None
    with pytest.raises(ValueError, match="reference"):
        {{ cookiecutter.__class_name }}Loss()(FusionOutput(fused=batch.lms), batch)
