"""The RSMIF model contract on every task the method supports, odd sizes, and a short fit."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from rsmif_core import Batch, BatchMeta, create_loss
from rsmif_core.testing import (
    TASK_CASES,
    TaskCase,
    check_model_contract,
    check_output,
    make_batch,
    train_briefly,
)

from {{ cookiecutter.package_name }} import {{ cookiecutter.__class_name }}

# Every geometry RSMIF tests, restricted to the tasks this method declares (incl. ratio 1 and 2, 2- and 3-band guides).
CASES = {name: case for name, case in TASK_CASES.items() if case.task in {{ cookiecutter.__class_name }}.tasks}
LOSS = "{{ cookiecutter.__loss_name if cookiecutter.default_loss == 'own' else cookiecutter.default_loss }}"


def test_declares_tasks() -> None:
    assert CASES, f"{{ cookiecutter.__class_name }}.tasks names no task of rsmif_core.testing.TASK_CASES: {sorted(TASK_CASES)}"


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_contract(case) -> None:
    check_model_contract({{ cookiecutter.__class_name }}, case, size=16, hyper={"channels": 8, "num_blocks": 1})


@pytest.mark.parametrize("size", [15, 17])
def test_odd_sizes_keep_their_shape(size: int) -> None:
    case = dataclasses.replace(next(iter(CASES.values())), ratio=1)
    model = {{ cookiecutter.__class_name }}(case.spectral_bands, case.guide_bands, case.ratio, channels=8, num_blocks=1).eval()
    with torch.no_grad():
        check_output(model, make_batch(case, size=size))


def test_readme_parameter_counts_are_current() -> None:
    """README.md's table is the real size of the model with its default hyperparameters."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| [^|]+ \| (\d+) \+ (\d+) \| (\d+) \|$", readme, flags=re.M)
    assert rows, "README.md has no parameter table rows '| geometry | C + G | count |'"
    for spectral, guide, count in rows:
        model = {{ cookiecutter.__class_name }}(int(spectral), int(guide), 4)
        measured = sum(p.numel() for p in model.parameters())
        assert measured == int(count), f"README.md says {count} parameters for {spectral} + {guide} bands, the model has {measured}"


def test_rejects_bad_hyperparameters() -> None:
    with pytest.raises(ValueError, match="channels"):
        {{ cookiecutter.__class_name }}(8, 1, 4, channels=0)
    with pytest.raises(TypeError):
        {{ cookiecutter.__class_name }}(8, 1, 4, chanels=16)  # type: ignore[call-arg]  # a typo is an error, not silently ignored


def structured_batch(case: TaskCase, size: int = 32, batch_size: int = 4) -> Batch:
    """A scene whose lost detail is in the guide (as with a real PAN): texture × per-image spectrum.

    ``make_batch``'s independent random images leave nothing to learn beyond noise.
    """
    g = torch.Generator().manual_seed(1)
    texture = torch.rand(batch_size, 1, size, size, generator=g)
    spectrum = 0.2 + 0.8 * torch.rand(batch_size, case.spectral_bands, 1, 1, generator=g)
    gt = texture * spectrum
    ms = F.avg_pool2d(gt, case.ratio)
    lms = F.interpolate(ms, scale_factor=case.ratio, mode="bicubic", align_corners=False) if case.ratio > 1 else ms
    meta = BatchMeta(task=case.task, ratio=case.ratio, ids=[str(i) for i in range(batch_size)])
    return Batch(pan=texture.repeat(1, case.guide_bands, 1, 1), ms=ms, lms=lms, gt=gt, meta=meta)


def test_short_training_lowers_the_loss() -> None:
    case = next(iter(CASES.values()))
    torch.manual_seed(0)
    model = {{ cookiecutter.__class_name }}(case.spectral_bands, case.guide_bands, case.ratio, channels=16, num_blocks=2)
    first, last = train_briefly(model, create_loss(LOSS), structured_batch(case), steps=20, lr=3e-3)
    assert last < 0.7 * first, f"loss went from {first:.4f} to {last:.4f} in 20 steps"
