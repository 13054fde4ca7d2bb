"""Quality indices: reduced resolution (with reference) and full resolution (no reference).

* :mod:`rsmif_core.metrics.functional` — batched torch functions, B×C×H×W -> (B,), toolbox semantics
  by default and ``protocol="authors"`` for the RSMIF authors' solver numbers;
* :mod:`rsmif_core.metrics.classes` — the torchmetrics classes registered by name (``create_metric``);
* ``rsmif score`` (:mod:`rsmif_core.metrics.score`) — scores image files made by any tool.

Sensor MTFs and interpolators live in :mod:`rsmif_core.ops.mtf` and :mod:`rsmif_core.ops.interp`.
"""

from rsmif_core.metrics import functional
from rsmif_core.metrics.checks import MetricInputError
from rsmif_core.metrics.classes import FULL_RESOLUTION, METRICS, REDUCED_RESOLUTION, QualityMetric, mean_std

__all__ = ["FULL_RESOLUTION", "METRICS", "REDUCED_RESOLUTION", "MetricInputError", "QualityMetric", "functional", "mean_std"]
