"""Shared fixtures: where ../shared (reference files) is, if anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rsmif_core.testing import find_shared


@pytest.fixture
def models_reference() -> Path:
    found = find_shared(__file__)
    if found is None or not (found / "reference" / "models").is_dir():
        pytest.skip("reference files not found: set RSMIF_SHARED or place shared/ beside the repository")
    return found / "reference" / "models"


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread (restored afterwards). On a shared, busy machine a second OpenMP
    thread makes every small op wait for a time slice."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
