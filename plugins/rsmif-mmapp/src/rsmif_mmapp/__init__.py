"""RSMIF plugin: MMAPP (Zhang et al., IEEE JSTARS 2024), multi-branch multi-scale adaptive progressive pyramid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import rsmif_core

# The model is imported on first use: rsmif loads this package to list its commands, and torch is slow to import.
__getattr__, __dir__ = rsmif_core.lazy_attributes(__name__, {
    "MMAPP": "rsmif_mmapp.model",
    "pyramid_steps": "rsmif_mmapp.model",
    "MultiscaleL1": "rsmif_mmapp.loss",
    "mmapp_multiscale": "rsmif_mmapp.loss",
})

if TYPE_CHECKING:  # pragma: no cover
    from rsmif_mmapp.loss import MultiscaleL1, mmapp_multiscale
    from rsmif_mmapp.model import MMAPP, pyramid_steps

__all__ = ["MMAPP", "MultiscaleL1", "mmapp_multiscale", "pyramid_steps"]
