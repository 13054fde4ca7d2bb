"""Registers the built-in quality indices."""

from __future__ import annotations

from rsmif_core.plugins.hookspecs import Register, hookimpl


@hookimpl
def register_metrics(register: Register) -> None:
    """Filled by the metrics package."""
