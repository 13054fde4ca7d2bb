"""Registers CF2N with RSMIF (entry point ``rsmif: cf2n``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rsmif_core
from rsmif_cf2n.model import CF2N


@rsmif_core.hookimpl
def register_models(register: Callable[..., Any]) -> None:
    register(
        "cf2n",
        CF2N,
        description="CF2N (Liu et al., GSIS 2024): FD2R wavelet detail reconstruction + frequency-spectral cross fusion",
        tasks=rsmif_core.TASKS,
    )
