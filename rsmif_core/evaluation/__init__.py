"""Scoring fused images (validation and ``rsmif test``), per-image rows and tables, image export."""

from rsmif_core.evaluation.runner import EvalResult, evaluate, summarize
from rsmif_core.evaluation.scoring import MetricSet

__all__ = ["EvalResult", "MetricSet", "evaluate", "summarize"]
