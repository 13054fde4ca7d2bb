"""Registers MMAPP and its multiscale loss with RSMIF (entry point ``rsmif: mmapp``)."""

from __future__ import annotations

from pathlib import Path

import rsmif_core


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
    from rsmif_mmapp.model import MMAPP

    register("mmapp", MMAPP, description="MMAPP (Zhang et al., JSTARS 2024): PAN/MS/fusion branches with adaptive "
                                         "modules and a progressive pyramid")


@rsmif_core.hookimpl
def register_losses(register: rsmif_core.Register) -> None:
    from rsmif_mmapp.loss import mmapp_multiscale

    register("mmapp_multiscale", mmapp_multiscale,
             description="MMAPP's loss: 0.2·L1(out1, gt↓) + 0.3·L1(out2, gt↓) + 0.5·L1(fused, gt) + 0.01·L1(ms_u4, lms)")


@rsmif_core.hookimpl
def register_configs(register: rsmif_core.RegisterConfig) -> None:
    rsmif_core.register_config_folder(register, "mmapp", Path(__file__).parent / "configs")
