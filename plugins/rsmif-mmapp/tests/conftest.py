"""Fixtures for the MMAPP plugin tests: where the shared reference files are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rsmif_core.testing import single_thread

REPO_ROOT = Path(__file__).resolve().parents[3]
PLUGIN_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def reference_dir() -> Path:
    shared = Path(os.environ.get("RSMIF_SHARED", REPO_ROOT / ".." / "shared"))
    path = shared / "reference" / "models"
    if not (path / "mmapp_wv3_golden.safetensors").is_file():
        pytest.skip(f"MMAPP reference files not found under {path} (set RSMIF_SHARED)")
    return path


@pytest.fixture(autouse=True)
def one_thread():
    """Run each test on one intra-op thread (restored afterwards): the tensors are tiny, and on a
    shared, oversubscribed machine two OpenMP threads spend most of their time waiting for each other."""
    with single_thread():
        yield
