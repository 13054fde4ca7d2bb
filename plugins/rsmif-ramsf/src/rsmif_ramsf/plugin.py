"""Registers RAMSF with RSMIF (entry point ``rsmif: ramsf``)."""

from __future__ import annotations

from pathlib import Path

import rsmif_core


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
    from rsmif_ramsf.model import RAMSF

    register("ramsf", RAMSF,
             description="RAMSF (Liu, Zhang, Wang, TGRS 2025): wavelet detail reconstruction + coordinate-query alignment")


@rsmif_core.hookimpl
def register_configs(register: rsmif_core.RegisterConfig) -> None:
    rsmif_core.register_config_folder(register, "ramsf", Path(__file__).parent / "configs")
