"""Shared helpers: where the read-only reference files live (``RSMIF_SHARED`` or ``../shared`` beside the repo)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rsmif_core.testing import find_shared

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plain_query.py


@pytest.fixture
def reference_models() -> Path:
    shared = find_shared(__file__)
    path = (shared or Path(__file__).resolve().parents[3].parent / "shared") / "reference" / "models"
    if not path.is_dir():
        pytest.skip(f"reference files not found at {path} (set RSMIF_SHARED)")
    return path
