"""Registers CF2N with RSMIF (entry point ``rsmif: cf2n``)."""

from __future__ import annotations

from rsmif_cf2n.model import CF2N
from rsmif_core import TASKS, Register, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    register(
        "cf2n",
        CF2N,
        description="CF2N (Liu et al., GSIS 2024): FD2R wavelet detail reconstruction + frequency-spectral cross fusion",
        tasks=TASKS,
    )
