"""RSANet for RSMIF: the recursive self-attention network of Liu et al. (IEEE JSTARS 2023) on every fusion task."""

from __future__ import annotations

from rsmif_rsanet.blocks import RSAM, RSARB, SA
from rsmif_rsanet.model import RSANet

__version__ = "0.1.0"
__all__ = ["RSAM", "RSARB", "SA", "RSANet", "__version__"]
