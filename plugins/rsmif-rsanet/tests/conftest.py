"""Shared fixtures: where ../shared (reference files) is, if anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsmif_core.testing import find_shared, single_thread


@pytest.fixture
def models_reference() -> Path:
    found = find_shared(__file__)
    if found is None or not (found / "reference" / "models").is_dir():
        pytest.skip("reference files not found: set RSMIF_SHARED or place shared/ beside the repository")
    return found / "reference" / "models"


@pytest.fixture(autouse=True)
def one_thread():
    """Many small tensor ops: on a shared, oversubscribed CPU two OpenMP threads are far slower than one."""
    with single_thread():
        yield
