"""A named set of registered quality indices, built with the common metric options."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from rsmif_core.config.schema import EvalSection
from rsmif_core.metrics.checks import MetricInputError
from rsmif_core.metrics.moments import Kernels
from rsmif_core.plugins.factory import create_metric
from rsmif_core.types import Batch


class MetricSet:
    """Registered metrics updated together with ``(fused, batch)``; ``compute`` gives per-image values.

    The inputs are gathered across processes before ``update`` (``gather_for_metrics`` drops the
    samples padded onto an uneven last batch), so each metric's own cross-process sync is switched off:
    syncing again would count every image once per process.
    """

    def __init__(self, names: Sequence[str], options: EvalSection, sensor: str, has_reference: bool,
                 kernels: Kernels = "numba") -> None:
        self.names = list(names)
        self.metrics: dict[str, Any] = {}
        for name in self.names:
            metric = create_metric(
                name,
                sensor=options.sensor or sensor,
                border=options.border,
                clip=options.clip,
                block_size=options.block_size,
                protocol=options.protocol,
                kernels=kernels,
                sync_on_compute=False,
            )
            if getattr(metric, "needs_reference", False) and not has_reference:
                raise MetricInputError(
                    f"metric {name!r} needs a reference image, but the dataset has none "
                    "(use the no-reference metrics for full-resolution data)"
                )
            self.metrics[name] = metric

    def higher_is_better(self, name: str) -> bool:
        return bool(getattr(self.metrics[name], "higher_is_better", False))

    def to(self, device: torch.device | str) -> MetricSet:
        for metric in self.metrics.values():
            metric.to(device)
        return self

    def reset(self) -> None:
        for metric in self.metrics.values():
            metric.reset()

    def update(self, fused: Tensor, batch: Batch) -> None:
        for metric in self.metrics.values():
            metric.update(fused, batch)

    def compute(self) -> dict[str, Tensor]:
        out = {}
        for name, metric in self.metrics.items():
            value = torch.as_tensor(metric.compute()).detach().float().cpu()
            out[name] = value.reshape(-1)
        return out
