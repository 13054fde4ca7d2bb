"""Quality indices: reduced resolution (with reference) and full resolution (no reference).

* :mod:`rsmif_core.metrics.functional` — batched torch functions, B×C×H×W -> (B,), toolbox semantics
  by default and ``protocol="authors"`` for the RSMIF authors' solver numbers;
* :mod:`rsmif_core.metrics.classes` — the torchmetrics classes registered by name (``create_metric``);
* :mod:`rsmif_core.metrics.files` — scores image files made by any tool (``rsmif score``).

Sensor MTFs and interpolators live in :mod:`rsmif_core.ops.mtf` and :mod:`rsmif_core.ops.interp`.
"""

from typing import TYPE_CHECKING

from rsmif_core.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(__name__, {
    "FULL_RESOLUTION": "rsmif_core.metrics.classes",
    "METRICS": "rsmif_core.metrics.classes",
    "REDUCED_RESOLUTION": "rsmif_core.metrics.classes",
    "MetricInputError": "rsmif_core.metrics.checks",
    "QualityMetric": "rsmif_core.metrics.classes",
    "mean_std": "rsmif_core.metrics.classes",
})

if TYPE_CHECKING:  # pragma: no cover
    from rsmif_core.metrics.checks import MetricInputError
    from rsmif_core.metrics.classes import (
        FULL_RESOLUTION,
        METRICS,
        REDUCED_RESOLUTION,
        QualityMetric,
        mean_std,
    )

__all__ = ["FULL_RESOLUTION", "METRICS", "REDUCED_RESOLUTION", "MetricInputError", "QualityMetric", "mean_std"]
