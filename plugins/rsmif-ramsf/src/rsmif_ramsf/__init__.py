"""RSMIF plugin: RAMSF (Liu, Zhang, Wang, IEEE TGRS 2025), a generic multimodal spatial-spectral fusion framework."""

from __future__ import annotations

from typing import TYPE_CHECKING

import rsmif_core

# The model is imported on first use: rsmif loads this package to list its commands, and torch is slow to import.
__getattr__, __dir__ = rsmif_core.lazy_attributes(__name__, {
    "RAMSF": "rsmif_ramsf.model",
    "axis_plan": "rsmif_ramsf.query",
    "cell_centres": "rsmif_ramsf.query",
    "coordinate_query": "rsmif_ramsf.query",
})

if TYPE_CHECKING:  # pragma: no cover
    from rsmif_ramsf.model import RAMSF
    from rsmif_ramsf.query import axis_plan, cell_centres, coordinate_query

__all__ = ["RAMSF", "axis_plan", "cell_centres", "coordinate_query"]
