"""RSMIF plugin: the classical pansharpening methods of Vivone et al.'s benchmark toolbox as parameter-free models."""

from __future__ import annotations

from typing import TYPE_CHECKING

import rsmif_core

# The models are imported on first use: rsmif loads this package to list its commands, and torch is slow to import.
__getattr__, __dir__ = rsmif_core.lazy_attributes(__name__, {name: "rsmif_classical.models" for name in (
    "AWLP", "BDSD", "BDSDPC", "BTH", "CBDSD", "CGSA", "CMTFGLPCBD", "ClassicalModel", "FEHPM", "GS", "GSA", "MF",
    "MODELS", "MTFGLP", "MTFGLPCBD", "MTFGLPFS", "MTFGLPHPM", "MTFGLPHPMR", "PRACS",
)})

if TYPE_CHECKING:  # pragma: no cover
    from rsmif_classical.models import (
        AWLP,
        BDSD,
        BDSDPC,
        BTH,
        CBDSD,
        CGSA,
        CMTFGLPCBD,
        FEHPM,
        GS,
        GSA,
        MF,
        MODELS,
        MTFGLP,
        MTFGLPCBD,
        MTFGLPFS,
        MTFGLPHPM,
        MTFGLPHPMR,
        PRACS,
        ClassicalModel,
    )

__all__ = [
    "AWLP", "BDSD", "BDSDPC", "BTH", "CBDSD", "CGSA", "CMTFGLPCBD", "ClassicalModel", "FEHPM", "GS", "GSA", "MF",
    "MODELS", "MTFGLP", "MTFGLPCBD", "MTFGLPFS", "MTFGLPHPM", "MTFGLPHPMR", "PRACS",
]
__version__ = "0.1.0"
