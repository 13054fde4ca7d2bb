"""Run a model over a dataset and score it: used by validation during training and by ``rsmif test``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch
from torch import Tensor

from rsmif_core.evaluation.scoring import MetricSet
from rsmif_core.types import Batch, BatchMeta, FusionOutput, LossOutput, collate

_ITEM_KEYS = {"pan", "ms", "lms", "gt", "id"} | {f.name for f in fields(BatchMeta)}


@dataclass
class ItemBatch:
    """A collated batch plus what each item carried beyond the Batch fields (e.g. ``crs``, ``transform``)."""

    batch: Batch
    extras: list[dict[str, Any]]

    def to(self, *args: Any, **kwargs: Any) -> ItemBatch:
        return ItemBatch(self.batch.to(*args, **kwargs), self.extras)


def collate_with_extras(samples: list[Mapping[str, Any]]) -> ItemBatch:
    return ItemBatch(collate(samples), [{k: v for k, v in s.items() if k not in _ITEM_KEYS} for s in samples])


@dataclass
class EvalResult:
    """Per-image scores in dataset order (``ids`` align with every metric's values)."""

    ids: list[str]
    values: dict[str, Tensor]
    loss: float | None = None
    seconds_model: float = 0.0
    seconds_metrics: float = 0.0
    seconds_total: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def means(self) -> dict[str, float]:
        return {name: float(v.mean()) if v.numel() else float("nan") for name, v in self.values.items()}

    def rows(self) -> list[dict[str, Any]]:
        return [{"id": image_id, **{n: float(v[i]) for n, v in self.values.items()}} for i, image_id in enumerate(self.ids)]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(
    model: torch.nn.Module,
    loader: Any,
    metrics: MetricSet,
    accelerator: Any,
    loss_fn: Callable[[FusionOutput, Batch], LossOutput] | None = None,
    on_batch: Callable[[Tensor, ItemBatch, int], None] | None = None,
) -> EvalResult:
    """Score ``model`` on every image of ``loader`` (a prepared loader yielding Batch or ItemBatch).

    Outputs and inputs are gathered with ``gather_for_metrics`` before scoring, so every process holds
    the same, duplicate-free values. ``on_batch(fused, local_batch, index)`` sees each process's own
    images (for export and images in tensorboard).
    """
    device = accelerator.device
    metrics.to(device).reset()
    was_training = model.training
    model.eval()
    ids: list[str] = []
    loss_sum, loss_count = 0.0, 0
    t_model = t_metrics = 0.0
    start = time.perf_counter()
    with torch.no_grad():
        for index, item in enumerate(loader):
            local = item if isinstance(item, ItemBatch) else ItemBatch(item, [{} for _ in range(len(item))])
            batch = local.batch
            t0 = time.perf_counter()
            with accelerator.autocast():
                output = model(batch)
            fused = output.fused.float()
            _sync(device)
            t1 = time.perf_counter()
            t_model += t1 - t0
            if on_batch is not None:
                on_batch(fused, local, index)
            gathered = _gather(accelerator, fused, output.extras, batch)
            t2 = time.perf_counter()
            g_fused, g_extras, g_batch = gathered
            if loss_fn is not None and (g_batch.gt is not None or not getattr(loss_fn, "needs_reference", True)):
                value = loss_fn(FusionOutput(g_fused, g_extras), g_batch).total
                loss_sum += float(value) * len(g_batch)
                loss_count += len(g_batch)
            metrics.update(g_fused, g_batch)
            ids.extend(g_batch.meta.ids)
            _sync(device)
            t_metrics += time.perf_counter() - t2
    t3 = time.perf_counter()
    values = metrics.compute()
    t_metrics += time.perf_counter() - t3
    model.train(was_training)
    return EvalResult(
        ids=ids,
        values=values,
        loss=loss_sum / loss_count if loss_count else None,
        seconds_model=t_model,
        seconds_metrics=t_metrics,
        seconds_total=time.perf_counter() - start,
    )


def _gather(accelerator: Any, fused: Tensor, extras: dict[str, Tensor], batch: Batch) -> tuple[Tensor, dict[str, Tensor], Batch]:
    if accelerator.num_processes == 1:
        return fused, extras, batch
    tensors = {"fused": fused, "pan": batch.pan, "ms": batch.ms, "lms": batch.lms}
    if batch.gt is not None:
        tensors["gt"] = batch.gt
    tensors.update({f"extra.{k}": v for k, v in extras.items() if isinstance(v, Tensor) and v.ndim and len(v) == len(batch)})
    g = accelerator.gather_for_metrics(tensors)
    ids = list(accelerator.gather_for_metrics(list(batch.meta.ids)))
    meta = replace(batch.meta, ids=ids)
    g_batch = Batch(pan=g["pan"], ms=g["ms"], lms=g["lms"], gt=g.get("gt"), meta=meta)
    g_extras = {k.removeprefix("extra."): v for k, v in g.items() if k.startswith("extra.")}
    return g["fused"], g_extras, g_batch


def summarize(values: Mapping[str, Tensor]) -> dict[str, dict[str, float]]:
    """Mean and (population, like numpy's default used in the papers' tables) standard deviation per metric."""
    out = {}
    for name, v in values.items():
        v = v.double()
        out[name] = {
            "mean": float(v.mean()) if v.numel() else float("nan"),
            "std": float(v.std(unbiased=False)) if v.numel() else float("nan"),
            "n": int(v.numel()),
        }
    return out
