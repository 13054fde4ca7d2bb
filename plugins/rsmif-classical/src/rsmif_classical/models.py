"""The classical models by their toolbox names (``MODELS``)."""

from __future__ import annotations

from rsmif_classical.base import ClassicalModel
from rsmif_classical.bdsd import BDSD, BDSDPC, CBDSD
from rsmif_classical.cs import BTH, GS, GSA, PRACS
from rsmif_classical.fe import FEHPM
from rsmif_classical.mra import AWLP, MF, MTFGLP, MTFGLPCBD, MTFGLPFS, MTFGLPHPM, MTFGLPHPMR
from rsmif_classical.segmentation import CGSA, CMTFGLPCBD

# toolbox name -> model, in the benchmark's order
MODELS: dict[str, type[ClassicalModel]] = {
    "bt-h": BTH,
    "bdsd": BDSD,
    "c-bdsd": CBDSD,
    "bdsd-pc": BDSDPC,
    "gs": GS,
    "gsa": GSA,
    "c-gsa": CGSA,
    "pracs": PRACS,
    "awlp": AWLP,
    "mtf-glp": MTFGLP,
    "mtf-glp-fs": MTFGLPFS,
    "mtf-glp-hpm": MTFGLPHPM,
    "mtf-glp-hpm-r": MTFGLPHPMR,
    "mtf-glp-cbd": MTFGLPCBD,
    "c-mtf-glp-cbd": CMTFGLPCBD,
    "mf": MF,
    "fe-hpm": FEHPM,
}

__all__ = [
    "AWLP", "BDSD", "BDSDPC", "BTH", "CBDSD", "CGSA", "CMTFGLPCBD", "ClassicalModel", "FEHPM", "GS", "GSA", "MF",
    "MODELS", "MTFGLP", "MTFGLPCBD", "MTFGLPFS", "MTFGLPHPM", "MTFGLPHPMR", "PRACS",
]
