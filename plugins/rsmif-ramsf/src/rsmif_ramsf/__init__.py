"""RSMIF plugin: RAMSF (Liu, Zhang, Wang, IEEE TGRS 2025), a generic multimodal spatial-spectral fusion framework."""

from rsmif_ramsf.model import RAMSF
from rsmif_ramsf.query import axis_plan, cell_centres, coordinate_query

__all__ = ["RAMSF", "axis_plan", "cell_centres", "coordinate_query"]
