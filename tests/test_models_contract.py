"""Every registered model, on every task it declares: build, forward shapes, one training step, and a
safetensors round trip that rebuilds the model from the weights file alone (name + recorded arguments)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import rsmif_core
from rsmif_core.models.weights import load_weights, save_weights
from rsmif_core.testing import TASK_CASES, TaskCase, make_batch, single_thread


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with single_thread():  # tiny tensors: a second thread per test worker only adds contention
        yield


def _cases() -> list[tuple[str, TaskCase]]:
    out = []
    for entry in rsmif_core.describe("models"):
        for case_id, case in TASK_CASES.items():
            if case.task in entry.tasks and case_id != "pansharpening-landsat-ratio2":
                out.append((entry.name, case))
    return out


CASES = _cases()


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}-{c.task}-{c.spectral_bands}b" for n, c in CASES])
def test_registered_model_contract(name: str, case: TaskCase, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = rsmif_core.create_model(name, spectral_bands=case.spectral_bands, guide_bands=case.guide_bands,
                                    ratio=case.ratio)
    assert isinstance(model, rsmif_core.FusionModel)
    assert case.task in model.tasks
    parameters = [p for p in model.parameters() if p.requires_grad]
    # the toolbox's methods need larger images (FE-HPM estimates a 25-tap filter and tapers edges with a 12×12 PSF)
    batch = make_batch(case, size=16 if parameters else 64, batch_size=2)
    batch.meta.max_value = 2047.0  # an 11-bit DN scale: what the toolbox's regularisations are set for

    model.eval()
    with torch.no_grad():
        fused = model(batch).fused
    assert fused.shape == batch.lms.shape and fused.dtype == batch.lms.dtype and torch.isfinite(fused).all()

    if parameters:
        model.train()
        optimizer = torch.optim.Adam(parameters, lr=1e-3)
        loss = torch.nn.functional.l1_loss(model(batch).fused, batch.gt)
        loss.backward()
        optimizer.step()
        assert torch.isfinite(loss)
        model.eval()

    path = tmp_path / "model.safetensors"
    save_weights(model, path, name)
    state, meta = load_weights(path)
    twin = rsmif_core.create_model(meta["model"], spectral_bands=meta["spectral_bands"],
                                   guide_bands=meta["guide_bands"], ratio=meta["ratio"], **meta["arguments"])
    twin.load_state_dict(state, strict=True)
    twin.eval()
    with torch.no_grad():
        assert torch.equal(model(batch).fused, twin(batch).fused)


def test_every_registered_model_declares_tasks() -> None:
    for entry in rsmif_core.describe("models"):
        assert entry.tasks and set(entry.tasks) <= set(rsmif_core.TASKS), entry.name
