"""Score fused images read from files (any tool's output) with RSMIF's indices: what ``rsmif score`` computes.

Images of two folders are paired by file name; a single file pairs by order. The scale (``max_value``),
sensor and ratio come from the caller or from what the files record; a value above the scale is an error,
never a silently wrong score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rsmif_core.metrics.classes import METRICS, ScoreInputs
from rsmif_core.metrics.moments import Kernels
from rsmif_core.metrics.readers import ImageReadError, ImageSet, check_same_count, pair_by_id, read_images
from rsmif_core.ops.mtf import canonical_sensor

CHUNK = 4  # images scored together (bounds memory on 512×512 full-resolution scenes)
# A network's output may overshoot its scale a little (the toolbox scores it unclipped); this much more is a
# file on another scale.
FUSED_OVERSHOOT = 1.5


@dataclass
class ScoreFiles:
    """The images of every role, paired with the fused ones, and what their files record."""

    fused: ImageSet
    others: dict[str, ImageSet]
    recorded: dict[str, Any] = field(default_factory=dict)
    recorded_from: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_score_files(fused: str, **roles: str | None) -> ScoreFiles:
    """Read the fused images and those of each given role (``reference``, ``pan``, ``ms``, ``lms``), paired."""
    fused_set = read_images(fused, "fused")
    files = ScoreFiles(fused_set, {})
    for role, spec in roles.items():
        if spec is None:
            continue
        images = read_images(spec, role)
        if fused_set.from_folder and images.from_folder:
            images = pair_by_id(fused_set, images, role)
        else:
            check_same_count([("fused", fused_set.array), (role, images.array)])
            if len(fused_set.ids) > 1:
                files.notes.append(f"{role} images paired with the fused ones by order (a single file holds them)")
        files.others[role] = images
    for images in (fused_set, *files.others.values()):
        for key, value in images.meta.items():
            if key in files.recorded and files.recorded[key] != value:
                raise ImageReadError(f"{images.meta_source[key]} records {key} {value!r}, but "
                                     f"{files.recorded_from[key]} records {files.recorded[key]!r}")
            files.recorded.setdefault(key, value)
            files.recorded_from.setdefault(key, images.meta_source[key])
    return files


def to_unit(name: str, a: np.ndarray, max_value: float, scale: str, notes: list[str]) -> torch.Tensor:
    """Bring an array to the [0, 1] scale: DN / max_value, or as is when it already is in [0, 1]; values above
    the scale are an error (a file on another scale would give a silently wrong score)."""
    top = float(np.nanmax(a))
    unit = scale == "unit" or (scale == "auto" and max_value > 1.5 and top <= 1.5)
    if unit and scale == "auto":
        notes.append(f"{name}: values lie in [0, 1.5], read as already divided by max_value {max_value:g}")
    values = a if unit else a / max_value
    limit = FUSED_OVERSHOOT if name == "fused" else 1.0 + 1e-9
    peak = float(np.nanmax(values))
    if peak > limit:
        raise ImageReadError(
            f"{name}: values reach {top:g}, above the scale max_value {max_value:g}"
            + (f" by more than {FUSED_OVERSHOOT:g}×" if name == "fused" else "")
            + "; give --max-value for this data (e.g. 1023 for 10-bit, 4095 for 12-bit, 16383 for 14-bit)")
    return torch.from_numpy(values)


def score_images(
    files: ScoreFiles, *, names: list[str], sensor: str | None, ratio: int, max_value: float, scale: str,
    border: int, clip: bool, block_size: int, protocol: str, kernels: Kernels = "numba",
) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """Per-image values of every index in ``names``, the image ids, and notes on how the files were read."""
    if sensor is not None:
        canonical_sensor(sensor)
    notes = list(files.notes)
    arrays = {"fused": files.fused.array, **{role: images.array for role, images in files.others.items()}}
    tensors = {k: to_unit(k, a, max_value, scale, notes) for k, a in arrays.items()}
    metrics = {n: METRICS[n](sensor=sensor, border=border, clip=clip, block_size=block_size, protocol=protocol,
                             kernels=kernels) for n in names}
    parts: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    ids = files.fused.ids
    for start in range(0, len(ids), CHUNK):
        part = {k: t[start : start + CHUNK] for k, t in tensors.items()}
        inputs = ScoreInputs(gt=part.get("reference"), pan=part.get("pan"), ms=part.get("ms"), lms=part.get("lms"),
                             ratio=ratio, sensor=sensor or "none", max_value=max_value)
        with torch.no_grad():
            for n, metric in metrics.items():
                parts[n].append(metric.score(part["fused"], inputs).to(torch.float64))
    return {n: torch.cat(v) for n, v in parts.items()}, ids, notes
