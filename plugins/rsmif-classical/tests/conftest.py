"""Fixtures of the rsmif-classical tests: the toolbox reference scenes stored in ``data/`` (see data/README.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

import rsmif_core
from rsmif_core.testing import single_thread

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class ToolboxScene:
    """One reference scene: the inputs as a Batch, the reference image on the DN scale, the toolbox's results."""

    name: str
    batch: rsmif_core.Batch
    gt: torch.Tensor  # 1×C×H×W float64, DN
    arrays: dict[str, np.ndarray]
    indices: dict[str, dict[str, float]]

    @property
    def max_value(self) -> float:
        return float(self.batch.meta.max_value)


@cache
def _load_scene(name: str) -> ToolboxScene:
    with np.load(DATA / f"{name}.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    info = json.loads((DATA / "toolbox_indices.json").read_text())[name]

    def chw(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.atleast_3d(a).astype(np.float64).transpose(2, 0, 1)))[None]

    scale = float(info["max_value"])
    ms = chw(arrays["ms"]) / scale
    meta = rsmif_core.BatchMeta(
        task="pansharpening", sensor=info["sensor"], ratio=info["ratio"], max_value=scale,
        mtf_gains=None if info["mtf_gains"] is None else tuple(info["mtf_gains"]), ids=[name],
    )
    gt = chw(arrays["gt"])
    batch = rsmif_core.Batch(
        pan=chw(arrays["pan"]) / scale, ms=ms, lms=rsmif_core.interp23tap(ms, info["ratio"]), gt=gt / scale, meta=meta
    )
    return ToolboxScene(name, batch, gt, arrays, info["indices"])


@pytest.fixture
def toolbox_scene() -> Callable[[str], ToolboxScene]:
    """Loads a reference scene by name (one of ``SCENES``; cached)."""
    return _load_scene


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread per test: small tensors, and pytest-xdist already runs tests side by side."""
    with single_thread():
        yield
