"""Score fused images read from files (any tool's output) with RSMIF's indices: what ``rsmif score`` computes."""

from __future__ import annotations

import numpy as np
import torch

from rsmif_core.metrics.classes import METRICS, ScoreInputs
from rsmif_core.metrics.moments import Kernels
from rsmif_core.metrics.readers import check_same_count, read_images
from rsmif_core.ops.mtf import canonical_sensor

CHUNK = 4  # images scored together (bounds memory on 512×512 full-resolution scenes)


def to_unit(name: str, a: np.ndarray, max_value: float, scale: str, notes: list[str]) -> torch.Tensor:
    """Bring an array to the [0, 1] scale: DN / max_value, or as is when it already is in [0, 1]."""
    unit = scale == "unit" or (scale == "auto" and max_value > 1.5 and float(np.nanmax(a)) <= 1.5)
    if unit and scale == "auto":
        notes.append(f"{name}: values lie in [0, 1.5], read as already divided by max_value {max_value:g}")
    return torch.from_numpy(a if unit else a / max_value)


def score_images(
    fused: str, *, reference: str | None, pan: str | None, ms: str | None, lms: str | None, names: list[str],
    sensor: str | None, ratio: int, max_value: float, scale: str, border: int, clip: bool, block_size: int,
    protocol: str, kernels: Kernels = "numba",
) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """Per-image values of every index in ``names``, the image ids, and notes on how the files were read."""
    if sensor is not None:
        canonical_sensor(sensor)
    notes: list[str] = []
    ids, fused_a = read_images(fused, "fused")
    arrays: dict[str, np.ndarray] = {"fused": fused_a}
    for role, spec in (("reference", reference), ("pan", pan), ("ms", ms), ("lms", lms)):
        if spec is not None:
            arrays[role] = read_images(spec, role)[1]
    check_same_count(list(arrays.items()))
    tensors = {k: to_unit(k, a, max_value, scale, notes) for k, a in arrays.items()}
    metrics = {n: METRICS[n](sensor=sensor, border=border, clip=clip, block_size=block_size, protocol=protocol,
                             kernels=kernels) for n in names}
    parts: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    for start in range(0, len(ids), CHUNK):
        part = {k: t[start : start + CHUNK] for k, t in tensors.items()}
        inputs = ScoreInputs(gt=part.get("reference"), pan=part.get("pan"), ms=part.get("ms"), lms=part.get("lms"),
                             ratio=ratio, sensor=sensor or "none", max_value=max_value)
        with torch.no_grad():
            for n, metric in metrics.items():
                parts[n].append(metric.score(part["fused"], inputs).to(torch.float64))
    return {n: torch.cat(v) for n, v in parts.items()}, ids, notes
