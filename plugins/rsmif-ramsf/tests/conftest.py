"""Shared helpers: where the read-only reference files live (``RSMIF_SHARED`` or ``../shared`` beside the repo)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plain_query.py


def shared_dir() -> Path:
    env = os.environ.get("RSMIF_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[3] / ".." / "shared"


@pytest.fixture
def reference_models() -> Path:
    path = shared_dir() / "reference" / "models"
    if not path.is_dir():
        pytest.skip(f"reference files not found at {path} (set RSMIF_SHARED)")
    return path
