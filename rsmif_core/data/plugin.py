"""Registers the built-in datasets."""

from __future__ import annotations

from rsmif_core.plugins.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    """Filled by the data package."""
