"""Registers MMAPP and its multiscale loss with RSMIF (entry point ``rsmif: mmapp``)."""

from __future__ import annotations

from rsmif_core import TASKS, Register, hookimpl
from rsmif_mmapp.loss import mmapp_multiscale
from rsmif_mmapp.model import MMAPP


@hookimpl
def register_models(register: Register) -> None:
    register(
        "mmapp",
        MMAPP,
        description="MMAPP (Zhang et al., JSTARS 2024): PAN/MS/fusion branches with adaptive modules and a progressive pyramid",
        tasks=TASKS,
    )


@hookimpl
def register_losses(register: Register) -> None:
    register(
        "mmapp_multiscale",
        mmapp_multiscale,
        description="MMAPP's loss: 0.2·L1(out1, gt↓) + 0.3·L1(out2, gt↓) + 0.5·L1(fused, gt) + 0.01·L1(ms_u4, lms)",
    )
