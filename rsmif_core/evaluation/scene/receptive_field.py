"""Measure what a model's tiles need: its receptive field, and whether tiling it gives whole-image inference.

For model authors declaring ``FusionModel.receptive_field`` (and ``tile_alignment``), and for the tests that
hold the shipped models to their declarations:

* :func:`measure_receptive_field` back-propagates from one output pixel (float64, random inputs) and returns the
  farthest guide pixel of any input (``pan``, ``lms``, or the guide pixels an ``ms`` pixel covers) that gets a
  gradient, or None when the gradient reaches the probe's border at every probe size (global operations);
* :func:`tiling_error` runs the model on a random scene whole and in tiles of a :class:`TilePlan` and returns the
  largest difference of the mosaic. A gradient cannot see every dependence (a positional grid spanning the
  input, statistics of the tile's size), so a declaration needs both: the radius from the first, the proof
  from the second.
"""

from __future__ import annotations

import copy
import math

import torch

from rsmif_core.evaluation.scene.tiling import plan_tiles, round_up
from rsmif_core.types import Batch, BatchMeta, FusionModel

PROBE_SIZES = (128, 256, 512)


def _alignment(model: FusionModel) -> int:
    return math.lcm(int(getattr(model, "tile_alignment", 1)), int(model.ratio))


def _random_batch(model: FusionModel, height: int, width: int, seed: int, dtype: torch.dtype,
                  requires_grad: bool = False) -> Batch:
    g = torch.Generator().manual_seed(seed)
    r = int(model.ratio)
    pan = torch.rand(1, model.guide_bands, height, width, generator=g, dtype=dtype)
    ms = torch.rand(1, model.spectral_bands, height // r, width // r, generator=g, dtype=dtype)
    lms = torch.rand(1, model.spectral_bands, height, width, generator=g, dtype=dtype)
    for t in (pan, ms, lms):
        t.requires_grad_(requires_grad)
    return Batch(pan=pan, ms=ms, lms=lms, meta=BatchMeta(ratio=r))


def _reach(model: FusionModel, size: int, seed: int) -> int:
    """The farthest guide pixel (Chebyshev distance) from the centre that changes the centre's output."""
    r = int(model.ratio)
    batch = _random_batch(model, size, size, seed, torch.float64, requires_grad=True)
    centre = size // 2
    model(batch).fused[0, :, centre, centre].sum().backward()
    reach = 0
    for t in (batch.pan, batch.lms):
        if t.grad is None:  # an input the model does not use
            continue
        rows, cols = torch.nonzero(t.grad[0].abs().sum(0)).unbind(1)
        if rows.numel():
            reach = max(reach, int((rows - centre).abs().max()), int((cols - centre).abs().max()))
    if batch.ms.grad is not None:
        rows, cols = torch.nonzero(batch.ms.grad[0].abs().sum(0)).unbind(1)
        for index in (rows, cols):
            if index.numel():  # an MS pixel covers guide pixels index·r .. index·r + r − 1
                far = torch.maximum((index * r - centre).abs(), (index * r + r - 1 - centre).abs())
                reach = max(reach, int(far.max()))
    return reach


def measure_receptive_field(model: FusionModel, seeds: tuple[int, ...] = (0, 1)) -> int | None:
    """The model's receptive field radius in guide pixels, or None when it reaches the border of a 512-pixel probe."""
    probe = copy.deepcopy(model).double().eval()
    step = 2 * _alignment(model)
    for size in PROBE_SIZES:
        size = round_up(size, step)
        reach = max(_reach(probe, size, seed) for seed in seeds)
        if reach < size // 2 - step:
            return reach
    return None


def tiling_error(model: FusionModel, size: int = 128, core: int = 32, margin: int | None = None,
                 seed: int = 0) -> float:
    """Max |whole-image output − tiled mosaic| on a random ``size``×``size`` scene (inputs as given: the lms is not
    recomputed per tile here), tiles of ``core`` pixels with ``margin`` (default: the declared receptive field)."""
    model = model.eval()
    alignment = _alignment(model)
    size = round_up(size, alignment)
    declared = getattr(model, "receptive_field", None)
    margin = margin if margin is not None else (declared if declared is not None else 0)
    plan = plan_tiles(size, size, core, margin, alignment)
    batch = _random_batch(model, size, size, seed, torch.float32)
    r = int(model.ratio)
    with torch.no_grad():
        whole = model(batch).fused
        mosaic = torch.empty_like(whole)
        for tile in plan:
            rows, cols = tile.rows, tile.cols
            guide = (slice(None), slice(None), slice(rows.start, rows.start + rows.size),
                     slice(cols.start, cols.start + cols.size))
            spectral = (slice(None), slice(None), slice(rows.start // r, (rows.start + rows.size) // r),
                        slice(cols.start // r, (cols.start + cols.size) // r))
            part = Batch(pan=batch.pan[guide], ms=batch.ms[spectral], lms=batch.lms[guide], meta=BatchMeta(ratio=r))
            out = model(part).fused
            mosaic[..., rows.core_start : rows.core_stop, cols.core_start : cols.core_stop] = out[..., rows.crop, cols.crop]
    return float((whole - mosaic).abs().max())
