"""Registers RSANet with RSMIF (entry point ``rsmif: rsanet``)."""

from __future__ import annotations

import rsmif_core


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
    from rsmif_rsanet.model import RSANet

    register("rsanet", RSANet,
             description="RSANet (Liu et al., JSTARS 2023): recursive self-attention modules, lms + residual")
