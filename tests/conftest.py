"""Shared fixtures: the shared reference folder and isolated plugin loading."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _helpers import shared_dir

from rsmif_core.plugins.manager import reset_plugins


@pytest.fixture
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared reference folder not found at {path} (set RSMIF_SHARED)")
    return path


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Reload plugins before and after a test that changes sys.path or the environment."""
    reset_plugins()
    yield
    reset_plugins()
