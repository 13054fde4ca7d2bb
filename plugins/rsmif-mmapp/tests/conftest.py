"""Fixtures for the MMAPP plugin tests: where the shared reference files are."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rsmif_core.testing import find_shared

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def reference_dir() -> Path:
    shared = find_shared(__file__)
    path = (shared or REPO_ROOT.parent / "shared") / "reference" / "models"
    if not (path / "mmapp_wv3_golden.safetensors").is_file():
        pytest.skip(f"MMAPP reference files not found under {path} (set RSMIF_SHARED)")
    return path


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread (restored afterwards). On a shared, busy machine a second OpenMP
    thread makes every small op wait for a time slice."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
