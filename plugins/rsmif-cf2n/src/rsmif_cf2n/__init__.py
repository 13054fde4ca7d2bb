"""RSMIF plugin: CF2N, a frequency-spectral dual-domain cross fusion network (built from the paper)."""

from __future__ import annotations

from rsmif_cf2n.model import CF2N

__all__ = ["CF2N"]
__version__ = "0.1.0"
