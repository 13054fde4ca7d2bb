"""Run a model over a whole scene in tiles: read, upsample, infer, write — three threads, bounded memory.

A reader thread reads each batch of tile windows (the guide, the MS window widened for the upsampler),
builds their ``lms`` (:class:`TileUpsampler`) and validity, and hands them over through a queue of
:data:`QUEUE_DEPTH` batches; the calling thread runs the model on the device (GPU when there is one,
optionally under autocast); a writer thread crops each output to its core and writes it into the GeoTIFF.
Reading and writing overlap the model, and at most ``2·QUEUE_DEPTH + 3`` batches exist at any time, whatever
the scene's size. Any failure or Ctrl-C stops all three and is raised in the calling thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rsmif_core.data.scene import ScenePair, boundary_index
from rsmif_core.evaluation.scene.tiling import Tile, TilePlan
from rsmif_core.evaluation.scene.upsample import TileUpsampler
from rsmif_core.evaluation.scene.writer import GDAL_CACHE_BYTES, OutputSpec, SceneWriter
from rsmif_core.types import Batch, BatchMeta

QUEUE_DEPTH = 1  # batches waiting between threads: enough to overlap, each one costs memory
_DONE = object()
_POLL = 0.1  # seconds between checks of the other threads while waiting on a queue


@dataclass(frozen=True)
class Scaling:
    """From file units to the model's [0, 1]: ``spectral / max_value``; the guide ``(x − low) / (high − low)``
    (default ``low = 0``, ``high = max_value``: the same scale as the spectral image, as PAN datasets do). ``clip``
    clips both to [0, 1] (the SAR-optical loaders clip dB and reflectance)."""

    max_value: float
    guide_low: float = 0.0
    guide_high: float | None = None
    clip: bool = False

    def spectral(self, x: np.ndarray) -> np.ndarray:
        y = x / self.max_value
        return np.clip(y, 0.0, 1.0) if self.clip else y

    def guide(self, x: np.ndarray) -> np.ndarray:
        high = self.max_value if self.guide_high is None else self.guide_high
        y = (x - self.guide_low) / (high - self.guide_low)
        return np.clip(y, 0.0, 1.0) if self.clip else y


@dataclass
class SceneStats:
    """What a prediction did and where its time went (seconds; the three threads overlap)."""

    tiles: int
    batches: int
    window: tuple[int, int]
    margin: int
    computed_pixels: int
    written_pixels: int
    seconds: float = 0.0
    seconds_model: float = 0.0
    seconds_read: float = 0.0
    seconds_write: float = 0.0
    seconds_waiting: float = 0.0  # the model thread waiting for the reader
    notes: list[str] = field(default_factory=list)


@dataclass
class _TileData:
    tile: Tile
    pan: np.ndarray
    ms: np.ndarray
    lms: np.ndarray
    valid: np.ndarray | None  # of the core


class _Stopped(Exception):
    """Another thread failed or the run was interrupted."""


class _Worker(threading.Thread):
    """A thread whose failure stops the others (through ``stop``) and is raised by the calling thread."""

    def __init__(self, name: str, target: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._run_target, self._stop_all = target, stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run_target()
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the calling thread
            self.error = exc
            self._stop_all.set()


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(item, timeout=_POLL)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[Any], stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=_POLL)
        except queue.Empty:
            continue


def read_tile(scene: ScenePair, tile: Tile, upsampler: TileUpsampler, scaling: Scaling) -> _TileData:
    """One tile's guide, MS and lms (float32, scaled) and the validity of its core (None: all valid).

    Pixels without data (nodata, masked, non-finite) are set to 0 after scaling, before the upsampling."""
    grid, r, m = scene.grid, scene.ratio, upsampler.margin
    rows, cols = tile.rows, tile.cols
    pan, pan_valid = scene.read_guide(rows.start, cols.start, rows.size, cols.size)
    ms_r0, ms_c0 = rows.start // r, cols.start // r
    ms_h, ms_w = rows.size // r, cols.size // r
    row_index = boundary_index(ms_r0 - m, ms_r0 + ms_h + m, grid.ms_height, upsampler.boundary)
    col_index = boundary_index(ms_c0 - m, ms_c0 + ms_w + m, grid.ms_width, upsampler.boundary)
    window, ms_valid = scene.read_spectral(row_index, col_index)
    window = scaling.spectral(window).astype(np.float32)  # float32 upsampling: half the work, ~1e-7 relative
    guide = scaling.guide(pan).astype(np.float32, copy=False)
    if ms_valid is not None:  # pixels without data enter the model as 0, whatever their nodata value
        window[:, ~ms_valid] = 0.0
    if pan_valid is not None:
        guide[:, ~pan_valid] = 0.0
    lms = upsampler.upsample(window)
    ms = window[:, m : m + ms_h, m : m + ms_w]
    cr, cc = rows.crop, cols.crop
    valid = None if pan_valid is None else pan_valid[cr, cc]
    if ms_valid is not None:
        core = ms_valid[m + cr.start // r : m + cr.stop // r, m + cc.start // r : m + cc.stop // r]
        core = np.repeat(np.repeat(core, r, axis=0), r, axis=1)
        valid = core if valid is None else valid & core
    return _TileData(tile, guide, np.ascontiguousarray(ms), lms, valid)


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """A batch of tiles (a view, without a copy, for a single tile)."""
    return arrays[0][None] if len(arrays) == 1 else np.stack(arrays)


def _batches(plan: TilePlan, batch_size: int) -> Iterator[list[Tile]]:
    chunk: list[Tile] = []
    for tile in plan:
        chunk.append(tile)
        if len(chunk) == batch_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def predict_scene(
    model: torch.nn.Module,
    scene: ScenePair,
    path: Path,
    spec: OutputSpec,
    plan: TilePlan,
    scaling: Scaling,
    meta: BatchMeta,
    device: torch.device | str = "cpu",
    batch_size: int = 1,
    autocast: Callable[[], AbstractContextManager[Any]] | None = None,
    on_tiles: Callable[[int], None] | None = None,
) -> SceneStats:
    """Write the fused scene into ``path`` (a new GeoTIFF). ``scene``'s grid must be the plan's region.

    ``model`` is in eval mode on ``device``; ``autocast`` (e.g. ``accelerator.autocast``) wraps each forward;
    ``on_tiles(n)`` is called (from the writer thread) after each ``n`` tiles are written.
    """
    import rasterio

    grid = scene.grid
    if (grid.height, grid.width) != (plan.height, plan.width):
        raise ValueError(f"the plan covers {plan.height}×{plan.width}, the scene's region is {grid.height}×{grid.width}")
    device = torch.device(device)
    upsampler = TileUpsampler(grid.ratio, grid.ms_height, grid.ms_width)
    stats = SceneStats(len(plan), 0, plan.window, plan.margin, plan.computed_pixels, plan.height * plan.width)
    pin = device.type == "cuda"
    stop = threading.Event()
    inbox: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_DEPTH)
    outbox: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_DEPTH)
    writer = SceneWriter(path, scene.pan_info, grid, scene.spectral_bands, spec)

    def produce() -> None:
        with scene.opened():
            for tiles in _batches(plan, batch_size):
                started = time.perf_counter()
                read = [read_tile(scene, tile, upsampler, scaling) for tile in tiles]
                arrays = [torch.from_numpy(_stack([getattr(it, key) for it in read])) for key in ("pan", "ms", "lms")]
                items = [(it.tile, it.valid) for it in read]
                del read
                if pin:
                    arrays = [a.pin_memory() for a in arrays]
                stats.seconds_read += time.perf_counter() - started
                _put(inbox, (items, arrays), stop)
        _put(inbox, _DONE, stop)

    def consume() -> None:
        with writer.opened():
            while (item := _get(outbox, stop)) is not _DONE:
                items, fused = item
                started = time.perf_counter()
                for (tile, valid), out in zip(items, fused):
                    rows, cols = tile.rows, tile.cols
                    writer.write(rows.core_start, cols.core_start, out[:, rows.crop, cols.crop], valid)
                stats.seconds_write += time.perf_counter() - started
                if on_tiles is not None:
                    on_tiles(len(items))

    reader, sink = _Worker("rsmif-predict-read", produce, stop), _Worker("rsmif-predict-write", consume, stop)
    started = time.perf_counter()
    # GDAL's block cache is process-wide; this Env sets its size for the threads too, and restores it after.
    env = rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES)
    env.__enter__()
    try:
        reader.start()
        sink.start()
        with torch.inference_mode():
            while True:
                waited = time.perf_counter()
                item = _next_input(inbox, stop, reader, sink)
                stats.seconds_waiting += time.perf_counter() - waited
                if item is _DONE:
                    break
                items, arrays = item
                t0 = time.perf_counter()
                pan, ms, lms = (a.to(device, non_blocking=pin) for a in arrays)
                batch = Batch(pan=pan, ms=ms, lms=lms,
                              meta=replace(meta, ids=[f"tile{tile.index}" for tile, _ in items]))
                with autocast() if autocast is not None else nullcontext():
                    fused = model(batch).fused
                fused_np = fused.float().cpu().numpy()
                stats.seconds_model += time.perf_counter() - t0
                stats.batches += 1
                _check_alive(stop, reader, sink)
                _put(outbox, (items, fused_np), stop)
            _put(outbox, _DONE, stop)
            while sink.is_alive():
                sink.join(_POLL)
                _raise_errors(stop, reader, sink)
    except _Stopped:  # a worker failed while this thread waited on a queue: raise its error
        _raise_errors(stop, reader, sink)
        raise RuntimeError("rsmif predict: a worker thread stopped without an error") from None
    finally:
        stop.set()
        for worker in (reader, sink):
            if worker.is_alive():
                worker.join()
        env.__exit__(None, None, None)
    _raise_errors(stop, reader, sink)
    stats.seconds = time.perf_counter() - started
    return stats


def _next_input(inbox: queue.Queue[Any], stop: threading.Event, reader: _Worker, sink: _Worker) -> Any:
    while True:
        try:
            return inbox.get(timeout=_POLL)
        except queue.Empty:
            _check_alive(stop, reader, sink)


def _raise_errors(stop: threading.Event, reader: _Worker, sink: _Worker) -> None:
    for worker in (reader, sink):
        if worker.error is not None:
            stop.set()
            raise worker.error


def _check_alive(stop: threading.Event, reader: _Worker, sink: _Worker) -> None:
    """While the writer is still needed: raise a worker's error, or say that the writer stopped."""
    _raise_errors(stop, reader, sink)
    if not sink.is_alive():
        stop.set()
        raise RuntimeError("the writer thread stopped before the last tile")
