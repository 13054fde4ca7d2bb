"""Shared fixtures: where ../shared (reference files) is, if anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rsmif_core.testing import single_thread


def shared_dir() -> Path | None:
    env = os.environ.get("RSMIF_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / ".." / "shared")
    for c in candidates:
        if (c / "reference" / "models").is_dir():
            return c.resolve()
    return None


@pytest.fixture
def models_reference() -> Path:
    found = shared_dir()
    if found is None:
        pytest.skip("reference files not found: set RSMIF_SHARED or place shared/ beside the repository")
    return found / "reference" / "models"


@pytest.fixture(autouse=True)
def one_thread():
    """Many small tensor ops: on a shared, oversubscribed CPU two OpenMP threads are far slower than one."""
    with single_thread():
        yield
