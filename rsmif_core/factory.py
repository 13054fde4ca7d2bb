"""Build registered things by name."""

from __future__ import annotations

from typing import Any

from rsmif_core.plugins.manager import registry
from rsmif_core.registry import Entry


def describe(kind: str) -> list[Entry]:
    """Every registered entry of a kind (``models``, ``datasets``, ``losses``, ``metrics``, ``commands``)."""
    reg = registry()
    return [reg.get(kind, n) for n in reg.names(kind) if n in reg.entries[kind]]


def available(kind: str) -> list[str]:
    """Sorted registered names of a kind."""
    return registry().names(kind)


def create_model(name: str, *args: Any, **kwargs: Any) -> Any:
    """``create_model("pnn", spectral_bands=8, guide_bands=1, ratio=4, **hyper)``."""
    return registry().get("models", name).factory(*args, **kwargs)


def create_dataset(name: str, *args: Any, **kwargs: Any) -> Any:
    return registry().get("datasets", name).factory(*args, **kwargs)


def create_loss(name: str, *args: Any, **kwargs: Any) -> Any:
    return registry().get("losses", name).factory(*args, **kwargs)


def create_metric(name: str, *args: Any, **kwargs: Any) -> Any:
    return registry().get("metrics", name).factory(*args, **kwargs)
