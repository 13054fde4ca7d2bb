"""Registers RSANet with RSMIF (entry point ``rsmif: rsanet``)."""

from __future__ import annotations

from pathlib import Path

import rsmif_core


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
    from rsmif_rsanet.model import RSANet

    register("rsanet", RSANet,
             description="RSANet (Liu et al., JSTARS 2023): recursive self-attention modules, lms + residual")


@rsmif_core.hookimpl
def register_configs(register: rsmif_core.RegisterConfig) -> None:
    rsmif_core.register_config_folder(register, "rsanet", Path(__file__).parent / "configs")
