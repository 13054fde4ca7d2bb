"""Registers ``rsanet`` with RSMIF (entry point ``rsmif``: ``rsanet = "rsmif_rsanet.plugin"``)."""

from __future__ import annotations

from rsmif_core import TASKS, Register, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    from rsmif_rsanet.model import RSANet

    register(
        "rsanet",
        RSANet,
        description="RSANet (Liu et al., JSTARS 2023): recursive self-attention modules, lms + residual",
        tasks=TASKS,
    )
