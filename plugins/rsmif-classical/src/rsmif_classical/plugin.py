"""Registers the toolbox's classical methods with RSMIF (entry point ``rsmif: classical``)."""

from __future__ import annotations

from pathlib import Path

import rsmif_core


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
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
        MTFGLP,
        MTFGLPCBD,
        MTFGLPFS,
        MTFGLPHPM,
        MTFGLPHPMR,
        PRACS,
    )

    register("bt-h", BTH, description="BT-H (Lolli et al., GRSL 2017): Brovey transform with haze correction")
    register("bdsd", BDSD, description="BDSD (Garzelli et al., TGRS 2008): band-dependent spatial detail, MMSE injection")
    register("c-bdsd", CBDSD, description="C-BDSD (Garzelli, TGRS 2015): BDSD with per-cluster parameters")
    register("bdsd-pc", BDSDPC, description="BDSD-PC (Vivone, TGRS 2019): BDSD with physically constrained injection")
    register("gs", GS, description="GS (Laben and Brower, 2000): Gram-Schmidt spectral sharpening")
    register("gsa", GSA, description="GSA (Aiazzi et al., TGRS 2007): Gram-Schmidt adaptive")
    register("c-gsa", CGSA, description="C-GSA (Restaino et al., TGRS 2017): context-adaptive GSA on k-means segments")
    register("pracs", PRACS, description="PRACS (Choi et al., TGRS 2011): partial replacement adaptive component substitution")
    register("awlp", AWLP, description="AWLP (Otazu et al., TGRS 2005): additive wavelet luminance proportional")
    register("mtf-glp", MTFGLP, description="MTF-GLP (Aiazzi et al., PE&RS 2006): MTF-matched generalized Laplacian pyramid")
    register("mtf-glp-fs", MTFGLPFS, description="MTF-GLP-FS (Vivone et al., TIP 2018): MTF-GLP with full-scale regression gains")
    register("mtf-glp-hpm", MTFGLPHPM, description="MTF-GLP-HPM (Aiazzi et al., URBAN 2003): MTF-GLP with high-pass modulation")
    register("mtf-glp-hpm-r", MTFGLPHPMR, description="MTF-GLP-HPM-R (Vivone et al., TGRS 2018): regression-based high-pass modulation")
    register("mtf-glp-cbd", MTFGLPCBD, description="MTF-GLP-CBD (Aiazzi et al., GRSL 2009): MTF-GLP with regression (CBD) gains")
    register("c-mtf-glp-cbd", CMTFGLPCBD, description="C-MTF-GLP-CBD (Restaino et al., TGRS 2017): context-adaptive MTF-GLP-CBD")
    register("mf", MF, description="MF (Restaino et al., TIP 2016): morphological half-gradient pyramid")
    register("fe-hpm", FEHPM, description="FE-HPM (Vivone et al., TGRS 2015): HPM with a filter estimated by deconvolution")


@rsmif_core.hookimpl
def register_configs(register: rsmif_core.RegisterConfig) -> None:
    rsmif_core.register_config_folder(register, "classical", Path(__file__).parent / "configs")
