"""Built-in reference methods, registered through the same hook as any plugin."""

from __future__ import annotations

from rsmif_core.models.baselines import EXP, PNN
from rsmif_core.plugins.hookspecs import Register, hookimpl

__all__ = ["EXP", "PNN"]


@hookimpl
def register_models(register: Register) -> None:
    register("pnn", PNN, description="PNN (Masi et al. 2016): three convolutions on concat(lms, guide)")
    register("exp", EXP, description="EXP: the upsampled spectral image itself (no learning)")
