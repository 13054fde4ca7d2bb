"""RSMIF: remote sensing multimodal image fusion.

Public names for users and plugins: the contracts (:class:`Batch`, :class:`FusionOutput`,
:class:`LossOutput`, :class:`FusionModel`), the plugin marker :data:`hookimpl`, the factories
``create_model`` / ``create_dataset`` / ``create_loss`` / ``create_metric`` and ``available``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from rsmif_core.factory import (  # noqa: E402
    available,
    create_dataset,
    create_loss,
    create_metric,
    create_model,
    describe,
)
from rsmif_core.ops.attention import (  # noqa: E402
    dynamic_conv2d,
    local_window_attention,
    position_grid,
)
from rsmif_core.ops.wavelets import haar_dwt, haar_iwt  # noqa: E402
from rsmif_core.plugins.hookspecs import hookimpl  # noqa: E402
from rsmif_core.registry import Entry, RegistryError  # noqa: E402
from rsmif_core.types import (  # noqa: E402
    TASKS,
    Batch,
    BatchError,
    BatchMeta,
    FusionModel,
    FusionOutput,
    LossOutput,
    collate,
)

__all__ = [
    "TASKS",
    "Batch",
    "BatchError",
    "BatchMeta",
    "Entry",
    "FusionModel",
    "FusionOutput",
    "LossOutput",
    "RegistryError",
    "__version__",
    "available",
    "collate",
    "create_dataset",
    "create_loss",
    "create_metric",
    "create_model",
    "describe",
    "dynamic_conv2d",
    "haar_dwt",
    "haar_iwt",
    "hookimpl",
    "local_window_attention",
    "position_grid",
]
