"""Registers the toolbox's classical methods with RSMIF (entry point ``rsmif: classical``)."""

from __future__ import annotations

from pathlib import Path

import rsmif_core

# what `rsmif list models` says of each (toolbox name -> paper and idea)
DESCRIPTIONS = {
    "bt-h": "BT-H (Lolli et al., GRSL 2017): Brovey transform with haze correction",
    "bdsd": "BDSD (Garzelli et al., TGRS 2008): band-dependent spatial detail, MMSE injection",
    "c-bdsd": "C-BDSD (Garzelli, TGRS 2015): BDSD with per-cluster parameters",
    "bdsd-pc": "BDSD-PC (Vivone, TGRS 2019): BDSD with physically constrained injection",
    "gs": "GS (Laben and Brower, 2000): Gram-Schmidt spectral sharpening",
    "gsa": "GSA (Aiazzi et al., TGRS 2007): Gram-Schmidt adaptive",
    "c-gsa": "C-GSA (Restaino et al., TGRS 2017): context-adaptive GSA on k-means segments",
    "pracs": "PRACS (Choi et al., TGRS 2011): partial replacement adaptive component substitution",
    "awlp": "AWLP (Otazu et al., TGRS 2005): additive wavelet luminance proportional",
    "mtf-glp": "MTF-GLP (Aiazzi et al., PE&RS 2006): MTF-matched generalized Laplacian pyramid",
    "mtf-glp-fs": "MTF-GLP-FS (Vivone et al., TIP 2018): MTF-GLP with full-scale regression gains",
    "mtf-glp-hpm": "MTF-GLP-HPM (Aiazzi et al., URBAN 2003): MTF-GLP with high-pass modulation",
    "mtf-glp-hpm-r": "MTF-GLP-HPM-R (Vivone et al., TGRS 2018): regression-based high-pass modulation",
    "mtf-glp-cbd": "MTF-GLP-CBD (Aiazzi et al., GRSL 2009): MTF-GLP with regression (CBD) gains",
    "c-mtf-glp-cbd": "C-MTF-GLP-CBD (Restaino et al., TGRS 2017): context-adaptive MTF-GLP-CBD",
    "mf": "MF (Restaino et al., TIP 2016): morphological half-gradient pyramid",
    "fe-hpm": "FE-HPM (Vivone et al., TGRS 2015): HPM with a filter estimated by deconvolution",
}


@rsmif_core.hookimpl
def register_models(register: rsmif_core.Register) -> None:
    from rsmif_classical.models import MODELS

    for name, model in MODELS.items():
        register(name, model, description=DESCRIPTIONS[name])


@rsmif_core.hookimpl
def register_configs(register: rsmif_core.RegisterConfig) -> None:
    rsmif_core.register_config_folder(register, "classical", Path(__file__).parent / "configs")
