"""RSMIF plugin: CF2N, a frequency-spectral dual-domain cross fusion network (built from the paper)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import rsmif_core

# The model is imported on first use: rsmif loads this package to list its commands, and torch is slow to import.
__getattr__, __dir__ = rsmif_core.lazy_attributes(__name__, {
    "CF2N": "rsmif_cf2n.model",
})

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from rsmif_cf2n.model import CF2N

__all__ = ["CF2N"]
