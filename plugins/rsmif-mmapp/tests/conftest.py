"""Fixtures for the MMAPP plugin tests: where the shared reference files are."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsmif_core.testing import find_shared, single_thread

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
    """Run each test on one intra-op thread (restored afterwards): the tensors are tiny, and on a
    shared, oversubscribed machine two OpenMP threads spend most of their time waiting for each other."""
    with single_thread():
        yield
