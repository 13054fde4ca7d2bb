"""Registers RAMSF with RSMIF (entry point ``rsmif: ramsf``)."""

from __future__ import annotations

from pathlib import Path

import rsmif_core

# The run configurations shipped in configs/ (FILE.yaml is registered as ramsf:FILE), with what each one runs.
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
    from rsmif_ramsf.model import RAMSF

    register("ramsf", RAMSF,
             description="RAMSF (Liu, Zhang, Wang, TGRS 2025): wavelet detail reconstruction + coordinate-query alignment")


@rsmif_core.hookimpl
def register_configs(register: rsmif_core.RegisterConfig) -> None:
    folder = Path(__file__).parent / "configs"
    for setting, description in CONFIGS.items():
        register(f"ramsf:{setting}", folder / f"{setting}.yaml", description=description)
