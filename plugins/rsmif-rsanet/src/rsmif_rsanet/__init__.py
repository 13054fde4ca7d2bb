"""RSANet for RSMIF: the recursive self-attention network of Liu et al. (IEEE JSTARS 2023) on every fusion task."""

from __future__ import annotations

from typing import TYPE_CHECKING

import rsmif_core

# The model is imported on first use: rsmif loads this package to list its commands, and torch is slow to import.
__getattr__, __dir__ = rsmif_core.lazy_attributes(__name__, {
    "RSAM": "rsmif_rsanet.blocks",
    "RSARB": "rsmif_rsanet.blocks",
    "SA": "rsmif_rsanet.blocks",
    "RSANet": "rsmif_rsanet.model",
})

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from rsmif_rsanet.blocks import RSAM, RSARB, SA
    from rsmif_rsanet.model import RSANet

__all__ = ["RSAM", "RSANet", "RSARB", "SA"]
