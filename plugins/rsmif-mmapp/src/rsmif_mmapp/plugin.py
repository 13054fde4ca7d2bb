"""Registers MMAPP and its multiscale loss with RSMIF (entry point ``rsmif: mmapp``)."""

from __future__ import annotations

from pathlib import Path

import rsmif_core

# The run configurations shipped in configs/ (FILE.yaml is registered as mmapp:FILE), with what each one runs.
CONFIGS = {
    "pansharpening": "pansharpening on the built-in Landsat-7 sample (no download), the authors' recipe on a CPU budget",
    "hyperspectral": "hyperspectral pansharpening on the built-in sample (no download), the authors' recipe on a CPU budget",
    "sar-optical": "SAR-optical fusion on the built-in sample (no download), the authors' recipe on a CPU budget",
    "ms-hs": "MS/HS fusion on the built-in sample (no download), the authors' recipe on a CPU budget",
    "pansharpening-wv3": "PanCollection WorldView-3, the paper's full setting (needs the data)",
    "pansharpening-qb": "PanCollection QuickBird, the paper's full setting (needs the data)",
    "pansharpening-gf2": "PanCollection GaoFen-2, the paper's full setting (needs the data)",
    "hyperspectral-pavia": "HyperPanCollection Pavia Centre, the paper's full setting (needs the data)",
    "sar-optical-sen12mscr": "SEN12MS-CR cloud removal, the paper's full setting (needs the data)",
    "ms-hs-cave": "CAVE MS/HS fusion, the paper's full setting (needs the data)",
}


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
    folder = Path(__file__).parent / "configs"
    for setting, description in CONFIGS.items():
        register(f"mmapp:{setting}", folder / f"{setting}.yaml", description=description)
