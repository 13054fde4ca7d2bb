"""RSMIF plugin: the classical pansharpening methods of Vivone et al.'s benchmark toolbox as parameter-free models."""

from __future__ import annotations

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
