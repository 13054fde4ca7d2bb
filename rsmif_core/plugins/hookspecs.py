"""The hooks a plugin may implement. Each receives a ``register`` callback.

``register(name, factory, description=None, tasks=None)`` for models, datasets, losses and metrics;
``register(command)`` (a click command) for commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "rsmif"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., Any]


@hookspec
def register_models(register: Register) -> None:
    """Register fusion networks: ``register("name", ModelClass, description=..., tasks=...)``."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset factories."""


@hookspec
def register_losses(register: Register) -> None:
    """Register loss factories (``forward(output, batch) -> LossOutput``)."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register torchmetrics ``Metric`` factories."""


@hookspec
def register_commands(register: Register) -> None:
    """Register click commands added to the ``rsmif`` command line."""
