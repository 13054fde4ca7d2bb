"""Scoring fused images: validation during training and ``rsmif test`` (tables, CSV/JSON rows, .mat/GeoTIFF)."""

from rsmif_core.evaluation.assess import TestReport, run_test
from rsmif_core.evaluation.runner import EvalResult, evaluate, summarize
from rsmif_core.evaluation.scoring import MetricSet

__all__ = ["EvalResult", "MetricSet", "TestReport", "evaluate", "run_test", "summarize"]
