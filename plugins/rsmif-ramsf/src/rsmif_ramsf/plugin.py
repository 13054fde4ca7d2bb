"""Registers RAMSF with RSMIF (entry point ``rsmif: ramsf``)."""

from __future__ import annotations

from rsmif_core import TASKS, Register, hookimpl
from rsmif_ramsf.model import RAMSF


@hookimpl
def register_models(register: Register) -> None:
    register(
        "ramsf",
        RAMSF,
        description="RAMSF (Liu, Zhang, Wang, TGRS 2025): wavelet detail reconstruction + coordinate-query alignment",
        tasks=TASKS,
    )
