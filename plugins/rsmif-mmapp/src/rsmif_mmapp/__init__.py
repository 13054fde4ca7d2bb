"""RSMIF plugin: MMAPP (Zhang et al., IEEE JSTARS 2024), multi-branch multi-scale adaptive progressive pyramid."""

from rsmif_mmapp.loss import MultiscaleL1, mmapp_multiscale
from rsmif_mmapp.model import MMAPP, pyramid_steps

__all__ = ["MMAPP", "MultiscaleL1", "mmapp_multiscale", "pyramid_steps"]
