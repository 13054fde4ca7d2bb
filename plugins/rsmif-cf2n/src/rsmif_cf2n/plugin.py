"""Registers CF2N with RSMIF (entry point ``rsmif: cf2n``)."""

from __future__ import annotations

import rsmif_core


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
    from rsmif_cf2n.model import CF2N

    register("cf2n", CF2N,
             description="CF2N (Liu et al., GSIS 2024): FD2R wavelet detail reconstruction + frequency-spectral cross fusion")
