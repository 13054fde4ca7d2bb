"""Registers CF2N with RSMIF (entry point ``rsmif: cf2n``)."""

from __future__ import annotations

from pathlib import Path

import rsmif_core

# The run configurations shipped in configs/ (FILE.yaml is registered as cf2n:FILE), with what each one runs.
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
    from rsmif_cf2n.model import CF2N

    register("cf2n", CF2N,
             description="CF2N (Liu et al., GSIS 2024): FD2R wavelet detail reconstruction + frequency-spectral cross fusion")


@rsmif_core.hookimpl
def register_configs(register: rsmif_core.RegisterConfig) -> None:
    folder = Path(__file__).parent / "configs"
    for setting, description in CONFIGS.items():
        register(f"cf2n:{setting}", folder / f"{setting}.yaml", description=description)
